"""Run a service's outbox relay, consumers and periodic jobs without its HTTP API (production workers)."""

from __future__ import annotations

import asyncio
import signal

import structlog

from service_kit.app import ServiceSpec
from service_kit.logging import configure_logging
from service_kit.runtime import Runtime
from service_kit.tracing import configure_tracing


async def run_worker(spec: ServiceSpec) -> None:
    configure_logging(f"{spec.name}-worker", level=spec.settings.log_level, json=spec.settings.log_json)
    configure_tracing(spec.name)
    runtime = Runtime(spec.name, spec.settings, list(spec.subscriptions), list(spec.background_jobs))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await runtime.start(worker=True)
    await runtime.events_ready.wait()
    structlog.get_logger("linli.worker").info("worker started", subscriptions=len(spec.subscriptions))
    try:
        await stop.wait()
    finally:
        await runtime.stop()
