"""The Linli gateway: the only public entry — token issuer, routing to the services, aggregated OpenAPI."""
