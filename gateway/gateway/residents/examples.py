"""Examples of the app's sign-in by phone code, for the OpenAPI document (``service_kit.apidocs.examples``)."""

from typing import Any

from service_kit.apidocs import examples

SEND_CODE: dict[str, Any] = examples(
    request={"phone": "13812345678"},
    response={"phone": "+8613812345678", "expires_in": 300},
    status=202,
)

SIGN_IN: dict[str, Any] = examples(
    request={"phone": "13812345678", "code": "482913", "consent_version": "2026-11"},
    response={
        "access_token": "eyJhbGciOiJFUzI1NiIsImtpZCI6ImxpbmxpLTIwMjYtMTIiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiIuLi4ifQ.c2ln",
        "token_type": "Bearer",
        "expires_in": 900,
        "refresh_token": "r1_7Jq0Vd3mXbWcN9sKf2LpQa5tYhE8uGzR",
        "refresh_expires_in": 2592000,
    },
)
