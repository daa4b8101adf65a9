"""Needs and suggestions (诉求): what residents miss, grouped by category and community for procurement."""
