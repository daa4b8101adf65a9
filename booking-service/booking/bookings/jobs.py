"""Periodic jobs of the bookings module, run by the worker (``build_spec(...).background_jobs``)."""

import asyncio
from typing import cast

import structlog

from booking.bookings import service
from booking.config import Settings
from service_kit.runtime import Runtime

log = structlog.get_logger("linli.booking.jobs")


async def expire_unconfirmed_bookings(runtime: Runtime) -> None:
    """Every ``expiry_sweep_seconds``: expire requested bookings the provider did not confirm in time. Safe with
    several replicas: each booking expires by a guarded write, so one sweep wins and the others skip it."""
    settings = cast(Settings, runtime.settings)
    while True:
        await asyncio.sleep(settings.expiry_sweep_seconds)
        expired = await service.expire_overdue(runtime.sessionmaker, batch=settings.expiry_sweep_batch)
        if expired:
            log.info("expired unconfirmed bookings", count=expired)
            runtime.wake_relay()
