from typing import Any

from gateway.auth.keys import Keyring
from service_kit.auth import TokenVerifier
from service_kit.settings import ServiceSettings


class GatewayTokenVerifier(TokenVerifier):
    """The kit's verifier, always trusting the gateway's own keys (current and retired: a retired key's tokens
    expire on their own); keys from ``jwks_url``/``jwks_file`` (an external issuer) are trusted in addition."""

    def __init__(self, settings: ServiceSettings, keyring: Keyring) -> None:
        super().__init__(settings)
        self._external: dict[str, Any] = {"keys": []}
        self.trust_own(keyring)

    def trust_own(self, keyring: Keyring) -> None:
        self._own_jwks = [key.public_jwk() for key in (keyring.current, *(r.key for r in keyring.retired))]
        self.load_jwks(self._external)

    def load_jwks(self, document: dict[str, Any]) -> None:
        self._external = document
        super().load_jwks({"keys": [*document.get("keys", []), *self._own_jwks]})
