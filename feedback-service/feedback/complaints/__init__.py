"""Complaints (投诉): filed by residents, operators and centers, worked through an SLA-bound workflow."""
