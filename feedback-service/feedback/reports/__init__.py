"""Reports for officials: complaints by provider, category, street and month with SLA attainment; ratings by
provider, offering and month; top needs by street, community and category."""
