"""Settings shared by every Linli service; each service subclasses ``ServiceSettings``."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ClassVar, Literal, TypeVar

from fastapi import Request
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


class EdgeSettings(BaseSettings):
    """How every Linli server (the gateway and each service) treats a client at the edge, read from ``LINLI_*``.

    Also read on its own by the HTTP protocol uvicorn serves with (``service_kit.server``), before any app
    exists: a request's headers are read there, below ASGI."""

    model_config = SettingsConfigDict(env_prefix="LINLI_", extra="ignore")

    # A request's headers must have arrived this long after its first byte (or after the connection opened):
    # a client trickling them (slowloris) is cut off (service_kit.server).
    header_read_timeout_seconds: float = Field(10.0, gt=0, le=300)
    # A request's whole body must have arrived this long after its headers (one deadline, not one per chunk):
    # 408 problem+json, and the connection is closed (service_kit.edge.BodyLimitMiddleware).
    body_read_timeout_seconds: float = Field(30.0, gt=0, le=3600)
    # A larger body is refused with 413, declared (Content-Length) or streamed (chunked).
    max_body_bytes: int = Field(MIB, ge=1)
    # A document (a photo, a report, a call's files: service_kit.documents) may be this large; the routes that
    # take one (service_kit.documents.UPLOAD_ROUTES) accept a body this much larger than ``max_body_bytes``.
    max_document_bytes: int = Field(10 * MIB, ge=1)


class ServiceSettings(EdgeSettings):
    """Common settings, read from ``LINLI_*`` environment variables.

    The database URL is per service: ``LINLI_<SERVICE>_DATABASE_URL`` (e.g. ``LINLI_BOOKING_DATABASE_URL``),
    defaulting to a SQLite file under ``var_dir``.
    """

    model_config = SettingsConfigDict(env_prefix="LINLI_", extra="ignore")

    service_name: ClassVar[str] = "service"

    environment: Literal["dev", "test", "production"] = "dev"
    var_dir: Path = Path("var")
    database_url: str = ""
    database_echo: bool = False
    # PostgreSQL: connections each process keeps open, and how many more it may open for a burst (closed after).
    database_pool_size: int = Field(10, ge=1, le=100)
    database_max_overflow: int = Field(10, ge=0, le=100)

    nats_url: str = "nats://127.0.0.1:4222"
    stream_name: str = "LINLI"
    dead_letter_stream_name: str = "LINLI_DLQ"
    # JetStream replicas for the streams this service creates (3 in a production cluster).
    stream_replicas: int = 1
    consumer_max_deliver: int = 5
    consumer_ack_wait_seconds: float = 30.0
    # First redelivery delay after a handler failure; doubles with each attempt.
    consumer_retry_base_seconds: float = 1.0
    # Run the outbox relay, event consumers and jobs inside the API process; ``make run``, compose and k8s run them in
    # a worker process of their own (``python -m <package>.worker``) and set this false on the API (docs/workers.md).
    run_worker: bool = True
    # A worker in a process of its own says it is alive this often; its API's /readyz says ``worker: down`` after
    # three beats unheard (service_kit/events/signals.py).
    worker_heartbeat_seconds: float = Field(2.0, gt=0)
    # A worker in a process of its own also writes here, at every beat, the moment by which it will write again,
    # while its relay, consumers and jobs all run: ``python -m service_kit.alive <file>`` is its container's
    # liveness probe (k8s, compose). None: no file.
    worker_alive_file: Path | None = None
    # With the worker: also its periodic jobs (SMS delivery, sweeps). A test that applies events and runs a job's
    # pass by hand turns them off, so no pass of the loop races its own.
    run_background_jobs: bool = True
    relay_poll_seconds: float = 0.5
    # How long a relay holds the outbox rows it claimed; a replica that dies holding them delays them this long.
    relay_lease_seconds: float = Field(30.0, gt=0)

    # Token verification: keys from the gateway's JWKS, or from a file holding a JWKS document.
    jwks_url: str = ""
    jwks_file: Path | None = None
    jwt_issuer: str = "linli-gateway"
    jwt_audience: str = "linli"

    # Keys for protecting personal data at rest (field encryption, blind index); production refuses the default.
    data_key: SecretStr = SecretStr("dev-only-data-key-change-me-0123456789")
    # Rotation (service_kit/protection.py): the new key in ``LINLI_DATA_KEY``, the earlier ones here (a JSON list,
    # ``LINLI_DATA_KEYS_RETIRED='["old key"]'``): they still open what they sealed, and the worker seals it again
    # with the new key (every ``data_reseal_sweep_seconds``, ``data_reseal_batch`` rows per transaction); a retired
    # key is dropped once the worker's log says nothing is left for it.
    data_keys_retired: list[SecretStr] = Field(default_factory=list)
    # The blind indexes' key (exact lookups, unique phones): kept across data-key rotations. Unset, it is the data
    # key, and rotating then requires setting it to the key the indexes were made with (the first data key).
    data_index_key: SecretStr | None = None
    data_reseal_sweep_seconds: float = Field(600.0, gt=0)
    data_reseal_batch: int = Field(200, ge=1, le=10_000)

    # A POST's Idempotency-Key reservation older than this belongs to a request that died with its replica:
    # a retry may then run it again (nothing of the first was committed). Above the gateway's upstream timeout.
    idempotency_stale_seconds: float = Field(30.0, gt=0)
    # A stored response is replayed for this long (24 h, like Stripe's keys); after it the key is free and a
    # retry runs as a new request. The worker purges older records every purge interval.
    idempotency_retention_seconds: float = Field(86400.0, gt=0)
    idempotency_purge_interval_seconds: float = Field(3600.0, gt=0)

    # Where the public reaches the platform: the gateway's address (https://linli.fangshan.gov.cn in production).
    # Every link in an open-data document is built from it, never from a request's Host or X-Forwarded-* headers
    # (service_kit.links): a caller cannot put an address of their choosing into what others download.
    public_base_url: str = Field("http://127.0.0.1:8000", pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$")

    # Documents (service_kit.documents): stored by their sha256 under this directory (a volume in k8s); None is
    # ``var_dir/documents``. Their links are signed and expire after ``document_link_seconds``.
    documents_dir: Path | None = None
    # Or, ``s3``, in a bucket of an S3-compatible object store (the production option where no shared volume is
    # at hand): each service under a key prefix of its own (its name). Endpoint None is AWS's; credentials None
    # are botocore's own chain (AWS_* variables, a pod's web identity). ``path`` addressing suits MinIO and most
    # S3-compatible stores; ``virtual`` a cloud that asks for the bucket in the host name.
    documents_store: Literal["file", "s3"] = "file"
    documents_s3_endpoint_url: str | None = Field(None, pattern=r"^https?://[^/?#\s]+/?$")
    documents_s3_bucket: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    documents_s3_region: str = Field("us-east-1", pattern=r"^[a-z0-9-]{1,40}$")
    documents_s3_access_key_id: SecretStr | None = None
    documents_s3_secret_access_key: SecretStr | None = None
    documents_s3_addressing_style: Literal["path", "virtual"] = "path"
    document_link_seconds: int = Field(300, ge=10, le=86400)

    log_level: str = "INFO"
    log_json: bool = True

    # Metrics (service_kit.metrics): a service's /metrics is on its own port. Off only to measure their cost.
    metrics_enabled: bool = True
    # A listener of its own for /metrics: the gateway's (its public port serves none) and a standalone worker's.
    metrics_port: int | None = Field(None, ge=0, le=65535)
    # The address that listener binds: this machine only unless told (a pod's 0.0.0.0, for the cluster's Prometheus).
    metrics_host: str = "127.0.0.1"
    # A scrape reads the database and NATS at most this often; a scrape sooner reports the figures last read.
    metrics_refresh_seconds: float = Field(5.0, ge=0)

    @model_validator(mode="after")
    def _resolve_defaults(self) -> ServiceSettings:
        if not self.database_url:
            env_name = f"LINLI_{self.service_name.upper().replace('-', '_')}_DATABASE_URL"
            self.database_url = os.environ.get(env_name) or (
                f"sqlite+aiosqlite:///{self.var_dir / (self.service_name + '.db')}"
            )
        if self.environment == "production" and "dev-only" in self.data_key.get_secret_value():
            raise ValueError("LINLI_DATA_KEY must be set in production")
        self.public_base_url = self.public_base_url.rstrip("/")
        if self.environment == "production" and not self.public_base_url.startswith("https://"):
            raise ValueError("LINLI_PUBLIC_BASE_URL must be the platform's https:// address in production")
        if self.documents_store == "s3" and not self.documents_s3_bucket:
            raise ValueError("LINLI_DOCUMENTS_S3_BUCKET must be set when LINLI_DOCUMENTS_STORE is s3")
        if (self.documents_s3_access_key_id is None) != (self.documents_s3_secret_access_key is None):
            raise ValueError("LINLI_DOCUMENTS_S3_ACCESS_KEY_ID and LINLI_DOCUMENTS_S3_SECRET_ACCESS_KEY go together")
        if self.data_keys_retired and self.data_index_key is None:
            raise ValueError(
                "LINLI_DATA_INDEX_KEY must be set when data keys are retired: the key the blind indexes were made "
                "with (the first LINLI_DATA_KEY), which rotation keeps"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


SettingsT = TypeVar("SettingsT", bound=EdgeSettings)


def running_settings(request: Request) -> ServiceSettings:
    """The settings the running app was created with: a service's runtime holds them (``service_kit.app``); the
    gateway, which builds its own app, keeps them in ``app.state.settings``."""
    state = request.app.state
    runtime = getattr(state, "runtime", None)
    settings: ServiceSettings = runtime.settings if runtime is not None else state.settings
    return settings


def settings_dependency(settings_type: type[SettingsT]) -> Callable[[Request], Awaitable[SettingsT]]:
    """The FastAPI dependency that hands an endpoint the running app's settings (``running_settings``), of the
    service's own type. A service writes ``SettingsDep = Annotated[Settings, Depends(settings_dependency(Settings))]``
    once. Settings of another type are a wiring mistake (500)."""

    async def current_settings(request: Request) -> SettingsT:
        settings = running_settings(request)
        if not isinstance(settings, settings_type):
            raise TypeError(f"the app runs with {type(settings).__name__}, not {settings_type.__name__}")
        return settings

    current_settings.__name__ = f"current_{settings_type.__name__}"
    return current_settings
