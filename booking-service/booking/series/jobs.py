"""The series' periodic job, run by the worker (``build_spec(...).background_jobs``)."""

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import cast

import structlog

from booking.config import Settings
from booking.series import service, workdays
from service_kit.runtime import BackgroundJob, Runtime
from service_kit.timeutil import SHANGHAI, utcnow

log = structlog.get_logger("linli.booking.series")


def extend_series(clock: Callable[[], datetime] = utcnow) -> BackgroundJob:
    """Every ``series_extend_sweep_seconds``: book the dates of active series the booking horizon (on ``clock``)
    has reached. Safe twice and on several replicas: each series' new dates are claimed by a guarded write."""

    async def extend_series(runtime: Runtime) -> None:
        settings = cast(Settings, runtime.settings)
        await asyncio.to_thread(workdays.warm, clock().astimezone(SHANGHAI).date())
        while runtime.running:
            await runtime.sleep(settings.series_extend_sweep_seconds)
            planned = await service.extend(
                runtime.sessionmaker, settings=settings, batch=settings.series_extend_batch, now=clock()
            )
            if planned:
                log.info("booked later dates of series", count=planned)
                runtime.wake_relay()

    return extend_series
