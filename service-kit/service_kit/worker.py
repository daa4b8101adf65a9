"""Run a service's outbox relay, consumers and periodic jobs without its HTTP API (production workers)."""

from __future__ import annotations

import asyncio
import signal

import structlog

from service_kit.app import ServiceSpec
from service_kit.logging import configure_logging
from service_kit.metrics import ScrapeState, serve_metrics_port
from service_kit.runtime import Runtime, freeze_startup_heap
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
    freeze_startup_heap()
    structlog.get_logger("linli.worker").info("worker started", subscriptions=len(spec.subscriptions))
    # With LINLI_METRICS_PORT, its /metrics (it has no API port), its database's figures read on a timer.
    port = spec.settings.metrics_port if spec.settings.metrics_enabled else None
    listener = serve_metrics_port(port, spec.settings.metrics_host) if port is not None else None
    refreshing = asyncio.create_task(_refresh_metrics(spec, runtime)) if listener is not None else None
    try:
        await stop.wait()
    finally:
        if refreshing is not None:
            refreshing.cancel()
        if listener is not None:
            listener.stop()
        await runtime.stop()


async def _refresh_metrics(spec: ServiceSpec, runtime: Runtime) -> None:
    state = ScrapeState(spec.settings.metrics_refresh_seconds, list(spec.metrics_probes))
    while runtime.running:
        await state.refresh(runtime)
        await runtime.sleep(max(spec.settings.metrics_refresh_seconds, 1.0))
