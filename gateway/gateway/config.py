from datetime import timedelta
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import urlsplit

import limits
from pydantic import Field, IPvAnyNetwork, field_validator
from pydantic_settings import SettingsConfigDict

from service_kit.notify.settings import SmsSettings
from service_kit.settings import ServiceSettings


class GatewaySettings(ServiceSettings, SmsSettings):
    """The gateway's settings. Upstream URLs are read from ``LINLI_GATEWAY_<SERVICE>_URL``: one base URL, or
    several separated by commas (the service's replicas, balanced round-robin). ``SmsSettings``: the sender of
    sign-in codes."""

    model_config = SettingsConfigDict(env_prefix="LINLI_", extra="ignore", validate_by_name=True)

    service_name: ClassVar[str] = "gateway"

    host: str = "127.0.0.1"
    port: int = 8100
    # Server processes of one replica (``python -m gateway``); one is fastest on a small machine whose other cores
    # run the services (docs/gateway-benchmark.md). Scale out with replicas first.
    workers: int = Field(1, ge=1, le=64)

    registry_url: str = Field("http://127.0.0.1:8101", validation_alias="LINLI_GATEWAY_REGISTRY_URL")
    booking_url: str = Field("http://127.0.0.1:8102", validation_alias="LINLI_GATEWAY_BOOKING_URL")
    procurement_url: str = Field("http://127.0.0.1:8103", validation_alias="LINLI_GATEWAY_PROCUREMENT_URL")
    feedback_url: str = Field("http://127.0.0.1:8104", validation_alias="LINLI_GATEWAY_FEEDBACK_URL")

    # The issuer's Ed25519 key (PEM, PKCS#8); generated on first start when missing.
    signing_key_file: Path | None = None
    # How often each replica looks for a rotated key in the key folder.
    signing_key_reload_seconds: float = Field(10.0, gt=0)
    access_token_ttl_seconds: int = Field(900, ge=60, le=86400)
    # A refresh token lives this long unused; each use replaces it by a new one.
    refresh_token_ttl_seconds: int = Field(30 * 86400, ge=60, le=365 * 86400)

    # A provider system's API key becomes a bearer token this short-lived, reused for the cache period.
    api_key_token_ttl_seconds: int = Field(120, ge=30, le=3600)
    api_key_cache_seconds: float = Field(30.0, ge=0)

    # Residents' one-time codes: how long one is good for, wrong guesses allowed, and sends per phone.
    otp_ttl_seconds: int = Field(300, ge=30, le=3600)
    otp_max_attempts: int = Field(5, ge=1, le=20)
    otp_sends_per_window: int = Field(3, ge=1, le=100)
    otp_send_window_seconds: int = Field(900, ge=60, le=86400)
    # And per phone in any 24 hours, whatever the 15-minute window allows (an operator can lift them for a phone:
    # gateway/lockout). Beyond either: 429 too_many_codes.
    otp_sends_per_day: int = Field(10, ge=1, le=1000)
    otp_guesses_per_day: int = Field(20, ge=1, le=1000)
    # A signed-in resident's proof of a new phone (POST /api/v1/auth/otp/proof) is good this long.
    phone_proof_ttl_seconds: int = Field(600, ge=60, le=3600)
    # At a phone-code sign-in or refresh the gateway asks booking for the phone's resident record; no answer
    # within this many seconds is 503 (gateway/residents/linking.py).
    resident_link_timeout_seconds: float = Field(5.0, gt=0, le=30)
    # How often the gateway asks booking which records its app accounts name are erased, and forgets those: what
    # forgetting on the forwarded DELETE's answer missed (gateway/residents/erasure.py).
    erasure_reconcile_seconds: float = Field(600.0, gt=0)

    # The body limit and the header and body read timeouts are ServiceSettings' (service_kit.settings.EdgeSettings).
    # The default wait for a service's answer; known slow routes wait longer (gateway/routes.py SLOW_ROUTES).
    upstream_timeout_seconds: float = Field(10.0, gt=0)
    upstream_connect_timeout_seconds: float = Field(2.0, gt=0)
    # Below uvicorn's 5 s keep-alive, so a pooled connection is never reused just as the service closes it.
    upstream_keepalive_seconds: float = Field(3.0, gt=0)
    # Connections to each replica at most; a request beyond them waits for one (gateway/http1.py).
    upstream_max_connections: int = Field(200, ge=1)
    # The client the gateway reaches the services with: its own HTTP/1.1 client, or aiohttp's as a fallback
    # (gateway/transport.py).
    upstream_client: Literal["http1", "aiohttp"] = "http1"
    # After this many consecutive failures to reach a replica, skip it for circuit_open_seconds (503 at once
    # when every replica of the service is skipped).
    circuit_failure_threshold: int = Field(5, ge=1)
    circuit_open_seconds: float = Field(10.0, gt=0)
    # The services' public read-mostly answers (the category tree, the gazetteer) answered from the gateway's
    # memory, kept true by a long poll to each service that waits this long at most (gateway/readmostly.py).
    read_mostly_copies: bool = True
    read_mostly_poll_seconds: float = Field(25.0, gt=0, le=60)

    # Rate limits ("<count>/<period>", moving window, per replica); see gateway/ratelimit.py.
    rate_limit_principal: str = "1200/minute"
    rate_limit_api_key: str = "2400/minute"
    rate_limit_anonymous: str = "3000/minute"  # per IP address, and a call center shares one
    rate_limit_sign_in: str = "30/minute"  # per client address and kind of sign-in (password, code, refresh)
    # Per target of a sign-in (the username tried, the phone a code goes to), whatever the addresses it comes from.
    rate_limit_sign_in_target: str = "10/minute"

    # Proxies whose X-Forwarded-For is believed (IP addresses or CIDR ranges; in Kubernetes the ingress
    # controller's pod range). Empty: no forwarding header is believed, the caller is the socket's peer
    # (gateway/forwarded.py).
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=list)

    # Staff password sign-in: progressive delay after a few failures, a temporary lockout after more, per account
    # and shared by every replica (gateway/lockout/service.py has the policy).
    sign_in_failure_window_seconds: int = Field(900, ge=60, le=86400)
    sign_in_delay_after_failures: int = Field(3, ge=1, le=100)
    sign_in_max_delay_seconds: int = Field(60, ge=1, le=3600)
    sign_in_lockout_failures: int = Field(10, ge=2, le=1000)
    sign_in_lockout_seconds: int = Field(900, ge=60, le=86400)

    # Browser origins allowed to call the API (the call-center console, the web app); none by default.
    cors_allow_origins: list[str] = Field(default_factory=list)

    health_timeout_seconds: float = Field(2.0, gt=0)
    # Each part of the mobile app's home screen (GET /api/v1/home) waits this long for its service at most.
    home_part_timeout_seconds: float = Field(1.5, gt=0, le=10)
    # The aggregated OpenAPI document is rebuilt at most this often when every service gave its part, and
    # retried after openapi_retry_seconds when one could not (so a service that comes up appears within seconds).
    openapi_cache_seconds: float = Field(5.0, ge=0)
    openapi_retry_seconds: float = Field(1.0, ge=0)
    openapi_timeout_seconds: float = Field(15.0, gt=0)

    @field_validator(
        "rate_limit_principal",
        "rate_limit_api_key",
        "rate_limit_anonymous",
        "rate_limit_sign_in",
        "rate_limit_sign_in_target",
    )
    @classmethod
    def _a_rate_limit(cls, value: str) -> str:
        limits.parse(value)  # "10/minute", "100 per hour"…; raises ValueError otherwise
        return value

    @field_validator("registry_url", "booking_url", "procurement_url", "feedback_url")
    @classmethod
    def _base_urls(cls, value: str) -> str:
        urls = list(dict.fromkeys(url.strip().rstrip("/") for url in value.split(",")))
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"not an http(s) base URL: {url!r} (several replicas: comma-separated)")
        return ",".join(urls)

    def upstream_urls(self) -> dict[str, tuple[str, ...]]:
        """Base URLs of each service's replicas, by the names used in the route table."""
        urls = {
            "registry": self.registry_url,
            "booking": self.booking_url,
            "procurement": self.procurement_url,
            "feedback": self.feedback_url,
        }
        return {name: tuple(value.split(",")) for name, value in urls.items()}

    @property
    def retired_key_lifetime(self) -> timedelta:
        """How long a retired key stays published: its last token's lifetime, the time other replicas may
        still sign with it before they reload, and a minute for clocks that disagree."""
        return timedelta(seconds=self.access_token_ttl_seconds + self.signing_key_reload_seconds + 60)

    @property
    def signing_key_path(self) -> Path:
        return self.signing_key_file or self.var_dir / "keys" / "gateway-signing-key.pem"
