"""Booking rules per offering: lead time, horizon, cancellation window, confirmation deadline.

Each offering follows the district-wide defaults (settings) unless its provider (or an operator) sets its own."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from booking.catalog import service as catalog_service
from booking.config import Settings
from booking.rules import repository
from booking.rules import schemas as s
from service_kit.auth import Principal, Role
from service_kit.errors import NotFound

FIELDS = ("min_lead_minutes", "horizon_days", "cancellation_window_minutes", "confirm_within_minutes")


@dataclass(frozen=True)
class Rules:
    min_lead: timedelta
    horizon: timedelta
    cancellation_window: timedelta
    confirm_within: timedelta

    def bookable_from(self, now: datetime) -> datetime:
        return now + self.min_lead

    def bookable_until(self, now: datetime) -> datetime:
        return now + self.horizon

    def confirm_by(self, booked_at: datetime, slot_start: datetime) -> datetime:
        return min(booked_at + self.confirm_within, slot_start)

    def resident_may_cancel(self, slot_start: datetime, now: datetime) -> bool:
        return now <= slot_start - self.cancellation_window


def _defaults(settings: Settings) -> dict[str, int]:
    return {
        "min_lead_minutes": settings.booking_min_lead_minutes,
        "horizon_days": settings.booking_horizon_days,
        "cancellation_window_minutes": settings.booking_cancellation_window_minutes,
        "confirm_within_minutes": settings.booking_confirm_within_minutes,
    }


async def _values(
    session: AsyncSession, offering_id: uuid.UUID, settings: Settings
) -> tuple[dict[str, int], list[str]]:
    values = _defaults(settings)
    own: list[str] = []
    stored = await repository.get(session, offering_id)
    if stored is not None:
        for field in FIELDS:
            value = getattr(stored, field)
            if value is not None:
                values[field] = value
                own.append(field)
    return values, own


async def for_offering(session: AsyncSession, offering_id: uuid.UUID, settings: Settings) -> Rules:
    values, _ = await _values(session, offering_id, settings)
    return Rules(
        min_lead=timedelta(minutes=values["min_lead_minutes"]),
        horizon=timedelta(days=values["horizon_days"]),
        cancellation_window=timedelta(minutes=values["cancellation_window_minutes"]),
        confirm_within=timedelta(minutes=values["confirm_within_minutes"]),
    )


async def describe(session: AsyncSession, offering_id: uuid.UUID, settings: Settings) -> s.BookingRules:
    if await catalog_service.get_offering(session, offering_id) is None:
        raise NotFound("No such offering.", code="offering_not_found")
    values, own = await _values(session, offering_id, settings)
    return s.BookingRules(offering_id=offering_id, own_rules=own, **values)


async def set_rules(
    session: AsyncSession, offering_id: uuid.UUID, data: s.BookingRulesUpdate, *, by: Principal, settings: Settings
) -> s.BookingRules:
    """The offering's provider (provider_admin) or an operator sets its rules; others see a 404."""
    offering = await catalog_service.get_offering(session, offering_id)
    own_provider = by.has_any(Role.provider_admin) and offering is not None and by.provider_id == offering.provider_id
    if offering is None or not (own_provider or by.has_any(Role.operator, Role.admin)):
        raise NotFound("No such offering.", code="offering_not_found")
    await repository.put(session, offering_id, data.model_dump(include=set(FIELDS)))
    return await describe(session, offering_id, settings)
