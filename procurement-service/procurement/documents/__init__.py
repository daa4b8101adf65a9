"""Procurement's documents (service_kit.documents): acceptance reports, published with the acceptance."""
