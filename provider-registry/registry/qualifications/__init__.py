"""Providers' qualifications and licenses (what some categories require before an offering is published),
and their staff (caregivers, counselors) with certifications."""
