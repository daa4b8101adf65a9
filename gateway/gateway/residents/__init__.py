"""Residents' sign-in: a phone number and a one-time code sent by SMS; the gateway-side resident identity."""
