from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings

MIB = 1024 * 1024


class GatewaySettings(ServiceSettings):
    """The gateway's settings. Upstream URLs are read from ``LINLI_GATEWAY_<SERVICE>_URL``."""

    model_config = SettingsConfigDict(env_prefix="LINLI_", extra="ignore", validate_by_name=True)

    service_name: ClassVar[str] = "gateway"

    host: str = "127.0.0.1"
    port: int = 8100

    registry_url: str = Field("http://127.0.0.1:8101", validation_alias="LINLI_GATEWAY_REGISTRY_URL")
    booking_url: str = Field("http://127.0.0.1:8102", validation_alias="LINLI_GATEWAY_BOOKING_URL")
    procurement_url: str = Field("http://127.0.0.1:8103", validation_alias="LINLI_GATEWAY_PROCUREMENT_URL")
    feedback_url: str = Field("http://127.0.0.1:8104", validation_alias="LINLI_GATEWAY_FEEDBACK_URL")

    # The issuer's Ed25519 key (PEM, PKCS#8); generated on first start when missing.
    signing_key_file: Path | None = None
    access_token_ttl_seconds: int = Field(900, ge=60, le=86400)

    max_body_bytes: int = Field(MIB, ge=1)
    upstream_timeout_seconds: float = Field(10.0, gt=0)
    upstream_connect_timeout_seconds: float = Field(2.0, gt=0)
    # Below uvicorn's 5 s keep-alive, so a pooled connection is never reused just as the service closes it.
    upstream_keepalive_seconds: float = Field(3.0, gt=0)
    upstream_max_connections: int = Field(200, ge=1)
    health_timeout_seconds: float = Field(2.0, gt=0)
    openapi_cache_seconds: float = Field(5.0, ge=0)

    def upstream_urls(self) -> dict[str, str]:
        """Base URL of each service the gateway forwards to, by the names used in the route table."""
        urls = {
            "registry": self.registry_url,
            "booking": self.booking_url,
            "procurement": self.procurement_url,
            "feedback": self.feedback_url,
        }
        return {name: url.rstrip("/") for name, url in urls.items()}

    @property
    def signing_key_path(self) -> Path:
        return self.signing_key_file or self.var_dir / "keys" / "gateway-signing-key.pem"
