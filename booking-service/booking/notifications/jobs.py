"""The delivery worker's loop, run by the booking worker (``build_spec(...).background_jobs``)."""

from typing import cast

import structlog

from booking.config import Settings
from booking.notifications import delivery
from booking.notifications.consumers import Clock
from service_kit.notify.sms import SmsSender
from service_kit.runtime import BackgroundJob, Runtime

log = structlog.get_logger("linli.booking.notifications.jobs")


def deliver_sms(sender: SmsSender, clock: Clock) -> BackgroundJob:
    """Every ``notification_sweep_seconds``: send the SMS due by ``clock``. Safe with several replicas (each SMS
    is claimed by a guarded write)."""

    async def deliver_sms(runtime: Runtime) -> None:
        settings = cast(Settings, runtime.settings)
        while runtime.running:
            sent = await delivery.deliver_due(runtime.sessionmaker, sender, settings=settings, now=clock())
            if sent:
                log.info("sent SMS", count=sent)
            await runtime.sleep(settings.notification_sweep_seconds)

    return deliver_sms
