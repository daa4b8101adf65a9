"""The waitlists' periodic job, run by the worker (``build_spec(...).background_jobs``)."""

from collections.abc import Callable
from datetime import datetime
from typing import cast

import structlog

from booking.config import Settings
from booking.waitlist import service
from service_kit.runtime import BackgroundJob, Runtime
from service_kit.timeutil import utcnow

log = structlog.get_logger("linli.booking.waitlist")


def pass_on_unanswered_offers(clock: Callable[[], datetime] = utcnow) -> BackgroundJob:
    """Every ``waitlist_sweep_seconds``: offers unanswered by their time (on ``clock``) pass to the next in line,
    and places more capacity opened go to those waiting. Safe with several replicas (guarded writes)."""

    async def pass_on_unanswered_offers(runtime: Runtime) -> None:
        settings = cast(Settings, runtime.settings)
        while runtime.running:
            await runtime.sleep(settings.waitlist_sweep_seconds)
            ended = await service.pass_on_overdue_offers(
                runtime.sessionmaker,
                terms=service.OfferTerms.of(settings),
                batch=settings.waitlist_sweep_batch,
                now=clock(),
            )
            if ended:
                log.info("passed unanswered waitlist offers on", count=ended)

    return pass_on_unanswered_offers
