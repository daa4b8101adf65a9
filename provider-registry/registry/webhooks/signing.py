"""Standard Webhooks signatures, and the endpoint secrets they need kept at rest.

A secret is ``whsec_<base64 of 24 random bytes>``; a signature is ``v1,<base64 HMAC-SHA256 over
"{webhook-id}.{webhook-timestamp}.{body}">`` keyed with the decoded bytes. Secrets must be recoverable to sign,
so they are sealed like every secret Linli keeps (``service_kit.protection``, purpose ``WEBHOOK_SECRET``): a copy
of the database alone does not let anyone sign as Linli, and a data-key rotation re-seals them in the background
(``registry.app``), so the key can be retired.
"""

import base64
import hashlib
import hmac
import secrets

from service_kit.protection import Purpose

SECRET_PREFIX = "whsec_"
WEBHOOK_SECRET = Purpose("webhook-secret", b"linli.registry.webhook.secret")


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
