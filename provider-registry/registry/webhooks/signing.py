"""Standard Webhooks signatures, and the endpoint secrets they need kept at rest.

A secret is ``whsec_<base64 of 24 random bytes>``; a signature is ``v1,<base64 HMAC-SHA256 over
"{webhook-id}.{webhook-timestamp}.{body}">`` keyed with the decoded bytes. Secrets must be recoverable to sign,
so they are sealed with AES-GCM under a key derived (HKDF-SHA256) from ``settings.data_key``: a copy of the
database alone does not let anyone sign as Linli. Stored form: ``v1:<base64(nonce ‖ ciphertext)>``.
"""

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

SECRET_PREFIX = "whsec_"
_AAD = b"linli.registry.webhook.secret"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class SecretBox:
    key: bytes

    @classmethod
    def from_data_key(cls, data_key: SecretStr) -> "SecretBox":
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"linli-registry", info=b"webhook-secret")
        return cls(hkdf.derive(data_key.get_secret_value().encode()))

    def seal(self, secret: str) -> str:
        nonce = os.urandom(12)
        return "v1:" + base64.b64encode(nonce + AESGCM(self.key).encrypt(nonce, secret.encode(), _AAD)).decode()

    def open(self, sealed: str) -> str:
        version, _, body = sealed.partition(":")
        if version != "v1":
            raise ValueError("unknown sealed-secret version")
        raw = base64.b64decode(body)
        try:
            return AESGCM(self.key).decrypt(raw[:12], raw[12:], _AAD).decode()
        except InvalidTag as exc:
            raise ValueError("the webhook secret does not open with this data key") from exc
