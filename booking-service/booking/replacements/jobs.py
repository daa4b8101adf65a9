"""The replacements' periodic job, run by the worker (``build_spec(...).background_jobs``)."""

from collections.abc import Callable
from datetime import datetime
from typing import cast

import structlog

from booking.config import Settings
from booking.replacements import service
from service_kit.runtime import BackgroundJob, Runtime
from service_kit.timeutil import utcnow

log = structlog.get_logger("linli.booking.replacements")


def end_expired_funding(clock: Callable[[], datetime] = utcnow) -> BackgroundJob:
    """Every ``funding_end_sweep_seconds``: end the funded programs whose contract's last day has passed by
    ``clock`` and mark their residents' upcoming bookings for replacement."""

    async def end_expired_funding(runtime: Runtime) -> None:
        settings = cast(Settings, runtime.settings)
        while runtime.running:
            await runtime.sleep(settings.funding_end_sweep_seconds)
            ended = await service.end_expired_funding(
                runtime.sessionmaker, now=clock(), batch=settings.funding_end_sweep_batch
            )
            if ended:
                log.info("ended funded programs past their contract's last day", count=ended)

    return end_expired_funding
