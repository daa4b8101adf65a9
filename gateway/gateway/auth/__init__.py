"""The token issuer: signs EdDSA JWTs for signed-in accounts and publishes its public keys (JWKS)."""
