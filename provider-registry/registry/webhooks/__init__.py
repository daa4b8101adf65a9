"""Webhooks to providers' systems (Standard Webhooks): endpoints, signed deliveries, retries, the log."""
