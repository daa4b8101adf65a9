"""A provider's past performance: what reviewers see of an applicant, and the public standing."""
