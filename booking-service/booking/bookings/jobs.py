"""Periodic jobs of the bookings module, run by the worker (``build_spec(...).background_jobs``)."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import cast

import structlog

from booking.bookings import reminders, service
from booking.config import Settings
from service_kit.runtime import BackgroundJob, Runtime
from service_kit.timeutil import utcnow

log = structlog.get_logger("linli.booking.jobs")


async def expire_unconfirmed_bookings(runtime: Runtime) -> None:
    """Every ``expiry_sweep_seconds``: expire requested bookings the provider did not confirm in time. Safe with
    several replicas: each booking expires by a guarded write, so one sweep wins and the others skip it."""
    settings = cast(Settings, runtime.settings)
    while runtime.running:
        await runtime.sleep(settings.expiry_sweep_seconds)
        expired = await service.expire_overdue(runtime.sessionmaker, batch=settings.expiry_sweep_batch)
        if expired:
            log.info("expired unconfirmed bookings", count=expired)
            runtime.wake_relay()


async def alert_provider_missed(runtime: Runtime) -> None:
    """Every ``provider_missed_sweep_seconds``: mark the confirmed visits nobody checked in to by the end of their
    slot and emit ``linli.booking.provider_missed.v1``. Safe with several replicas: each booking is marked by a
    guarded write, so one sweep wins and the others skip it."""
    settings = cast(Settings, runtime.settings)
    while runtime.running:
        await runtime.sleep(settings.provider_missed_sweep_seconds)
        marked = await service.mark_provider_missed(runtime.sessionmaker, batch=settings.provider_missed_sweep_batch)
        if marked:
            log.info("visits the provider missed", count=marked)
            runtime.wake_relay()


def send_reminders(clock: Callable[[], datetime] = utcnow) -> BackgroundJob:
    """The reminder job: every ``reminder_sweep_seconds``, write the reminders due by ``clock`` (the delivery worker
    sends their SMS). Safe with several replicas: each booking is claimed by a guarded write, so only one replica
    reminds it."""

    async def send_reminders(runtime: Runtime) -> None:
        settings = cast(Settings, runtime.settings)
        lead = timedelta(hours=settings.reminder_lead_hours)
        while runtime.running:
            await runtime.sleep(settings.reminder_sweep_seconds)
            sent = await reminders.send_due(
                runtime.sessionmaker,
                lead=lead,
                batch=settings.reminder_sweep_batch,
                now=clock(),
                quiet_hours=settings.sms_quiet_hours,
            )
            if sent:
                log.info("wrote booking reminders", count=sent)

    return send_reminders
