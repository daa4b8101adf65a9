"""The eligibility re-check sweep, run by the worker (``build_spec(...).background_jobs``)."""

from collections.abc import Callable
from datetime import datetime
from typing import cast

import structlog

from booking.config import Settings
from booking.entitlements import service
from service_kit.runtime import BackgroundJob, Runtime
from service_kit.timeutil import utcnow

log = structlog.get_logger("linli.booking.entitlements")


def open_eligibility_rechecks(clock: Callable[[], datetime] = utcnow) -> BackgroundJob:
    """Every ``eligibility_recheck_sweep_seconds``: a re-check task for each tag whose evidence expires within
    ``eligibility_recheck_lead_days`` of ``clock``."""

    async def open_eligibility_rechecks(runtime: Runtime) -> None:
        settings = cast(Settings, runtime.settings)
        while runtime.running:
            opened = await service.open_rechecks(
                runtime.sessionmaker,
                now=clock(),
                lead_days=settings.eligibility_recheck_lead_days,
                batch=settings.eligibility_recheck_batch,
            )
            if opened:
                log.info("opened eligibility re-checks", count=opened)
            await runtime.sleep(settings.eligibility_recheck_sweep_seconds)

    return open_eligibility_rechecks
