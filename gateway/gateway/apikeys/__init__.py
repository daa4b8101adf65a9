"""API keys for providers' systems: exchanged at the edge for a short-lived token of role provider_system."""
