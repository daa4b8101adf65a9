"""Reports for officials: complaints and ratings by provider, category and month; SLA attainment."""
