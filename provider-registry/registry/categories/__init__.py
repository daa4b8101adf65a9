"""The service taxonomy: a two-level tree of categories (``elderly`` → ``elderly.meal_table``), zh-CN first."""
