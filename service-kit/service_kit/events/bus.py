"""The connection to NATS JetStream and the streams Linli uses."""

from __future__ import annotations

import asyncio

import nats
import structlog
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from service_kit.settings import ServiceSettings

log = structlog.get_logger("linli.bus")

EVENT_SUBJECTS = ["linli.>"]
DEAD_LETTER_SUBJECTS = ["linli-dlq.>"]


async def connect(settings: ServiceSettings, *, name: str) -> NATS:
    """Connect, retrying until NATS answers; afterwards the client reconnects on its own, forever."""

    async def disconnected() -> None:
        log.warning("nats disconnected")

    async def reconnected() -> None:
        log.info("nats reconnected")

    async def error(exc: Exception) -> None:
        log.debug("nats client error", error=str(exc))

    delay = 0.2
    while True:
        try:
            return await nats.connect(
                # A cluster is several comma-separated URLs; the client discovers the rest and fails over.
                servers=[url.strip() for url in settings.nats_url.split(",") if url.strip()],
                name=name,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                connect_timeout=2,
                disconnected_cb=disconnected,
                reconnected_cb=reconnected,
                error_cb=error,
            )
        except Exception as exc:  # noqa: BLE001 - every connect failure means: wait and retry
            log.warning("nats not reachable yet", url=settings.nats_url, error=str(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def stream_configs(settings: ServiceSettings) -> list[StreamConfig]:
    return [
        StreamConfig(
            name=settings.stream_name,
            subjects=EVENT_SUBJECTS,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=30 * 24 * 3600,
            duplicate_window=120,
            num_replicas=settings.stream_replicas,
        ),
        StreamConfig(
            name=settings.dead_letter_stream_name,
            subjects=DEAD_LETTER_SUBJECTS,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=90 * 24 * 3600,
            num_replicas=settings.stream_replicas,
        ),
    ]


async def ensure_streams(js: JetStreamContext, settings: ServiceSettings) -> None:
    """Create the streams if missing. Every service does this at start; the first one wins, the rest agree."""
    for config in stream_configs(settings):
        try:
            await js.add_stream(config)
        except BadRequestError:
            # Already exists with another config (an operator tuned it): leave it as it is.
            log.info("stream exists", stream=config.name)
