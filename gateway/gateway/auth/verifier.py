from typing import Any

from gateway.auth.keys import SigningKey
from service_kit.auth import TokenVerifier
from service_kit.settings import ServiceSettings


class GatewayTokenVerifier(TokenVerifier):
    """The kit's verifier, always trusting the gateway's own key; keys from ``jwks_url``/``jwks_file``
    (an external issuer) are trusted in addition."""

    def __init__(self, settings: ServiceSettings, signing_key: SigningKey) -> None:
        super().__init__(settings)
        self._own_jwks = signing_key.jwks()
        self.load_jwks({"keys": []})

    def load_jwks(self, document: dict[str, Any]) -> None:
        super().load_jwks({"keys": [*document.get("keys", []), *self._own_jwks["keys"]]})
