"""Open data in Open Referral HSDS 3.0: the published catalog for anyone, no login and no personal data."""
