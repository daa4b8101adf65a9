"""Periodic jobs of the bookings module, run by the worker (``build_spec(...).background_jobs``)."""

import asyncio
from datetime import timedelta
from typing import cast

import structlog

from booking.bookings import reminders, service
from booking.config import Settings
from booking.notifications import SmsSender
from service_kit.runtime import BackgroundJob, Runtime

log = structlog.get_logger("linli.booking.jobs")


async def expire_unconfirmed_bookings(runtime: Runtime) -> None:
    """Every ``expiry_sweep_seconds``: expire requested bookings the provider did not confirm in time. Safe with
    several replicas: each booking expires by a guarded write, so one sweep wins and the others skip it."""
    settings = cast(Settings, runtime.settings)
    while runtime.running:
        await asyncio.sleep(settings.expiry_sweep_seconds)
        expired = await service.expire_overdue(runtime.sessionmaker, batch=settings.expiry_sweep_batch)
        if expired:
            log.info("expired unconfirmed bookings", count=expired)
            runtime.wake_relay()


def send_reminders(sender: SmsSender) -> BackgroundJob:
    """The reminder job: every ``reminder_sweep_seconds``, send through ``sender`` the reminders now due. Safe
    with several replicas: each booking is claimed by a guarded write, so only one replica sends it."""

    async def send_reminders(runtime: Runtime) -> None:
        settings = cast(Settings, runtime.settings)
        lead = timedelta(hours=settings.reminder_lead_hours)
        while runtime.running:
            await asyncio.sleep(settings.reminder_sweep_seconds)
            sent = await reminders.send_due(
                runtime.sessionmaker, sender, lead=lead, batch=settings.reminder_sweep_batch
            )
            if sent:
                log.info("sent booking reminders", count=sent)

    return send_reminders
