"""Bookings: who may book what, slots that are never overbooked, funded quotas, and the state machine."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from booking.availability import schedule
from booking.bookings import repository
from booking.bookings import schemas as s
from booking.bookings.models import Booking, BookingStatus
from booking.catalog import service as catalog_service
from booking.residents import service as residents_service
from service_kit.auth import Principal, Role
from service_kit.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from service_kit.events.contracts import (
    BookingCancelled,
    BookingChanged,
    BookingCompleted,
    BookingConfirmed,
    BookingCreated,
    BookingNoShow,
    BookingRejected,
    BookingStarted,
)
from service_kit.events.outbox import emit
from service_kit.timeutil import utcnow

# The state machine: from each status, the statuses a booking may move to.
ALLOWED_TRANSITIONS: dict[BookingStatus, frozenset[BookingStatus]] = {
    BookingStatus.requested: frozenset({BookingStatus.confirmed, BookingStatus.rejected, BookingStatus.cancelled}),
    BookingStatus.confirmed: frozenset({BookingStatus.in_service, BookingStatus.cancelled, BookingStatus.no_show}),
    BookingStatus.in_service: frozenset({BookingStatus.completed}),
}


@dataclass(frozen=True)
class Action:
    to: BookingStatus
    event: type[BookingChanged]
    # Rejecting or cancelling gives the slot's unit (and any funded quota) back.
    releases_unit: bool = False
    needs_reason: bool = False
    resident_may: bool = False


ACTIONS: dict[str, Action] = {
    "confirm": Action(BookingStatus.confirmed, BookingConfirmed),
    "reject": Action(BookingStatus.rejected, BookingRejected, releases_unit=True, needs_reason=True),
    "cancel": Action(
        BookingStatus.cancelled, BookingCancelled, releases_unit=True, needs_reason=True, resident_may=True
    ),
    "start": Action(BookingStatus.in_service, BookingStarted),
    "complete": Action(BookingStatus.completed, BookingCompleted),
    "no_show": Action(BookingStatus.no_show, BookingNoShow),
}

# Which channel each kind of caller books through (the first is the default).
CHANNELS = {"staff": ("phone", "walk_in"), "resident": ("app",), "provider": ("provider_api",)}


def _actor(principal: Principal) -> str:
    role = sorted(principal.roles)[0] if principal.roles else "unknown"
    return f"{role}:{principal.subject}"[:160]


def _relation(principal: Principal, booking: Booking) -> str | None:
    """How the caller stands to a booking: ``staff`` (operator/admin), ``provider`` (its own provider),
    ``resident`` (their own), ``observer`` (an official, read only), or None (not theirs: 404)."""
    if principal.has_any(Role.operator, Role.admin):
        return "staff"
    if principal.has_any(Role.provider_admin, Role.provider_staff) and principal.provider_id == booking.provider_id:
        return "provider"
    if principal.has_any(Role.resident) and principal.resident_id == booking.resident_id:
        return "resident"
    if principal.has_any(Role.official):
        return "observer"
    return None


def _booker_kind(principal: Principal) -> str:
    if principal.has_any(Role.operator, Role.admin):
        return "staff"
    if principal.has_any(Role.provider_admin, Role.provider_staff) and principal.provider_id is not None:
        return "provider"
    if principal.has_any(Role.resident) and principal.resident_id is not None:
        return "resident"
    raise Forbidden("Only operators, residents and providers book services.")


async def create(session: AsyncSession, data: s.BookingCreate, *, by: Principal) -> Booking:
    kind = _booker_kind(by)
    resident_id = data.resident_id
    if kind == "resident":
        if resident_id is not None and resident_id != by.resident_id:
            raise NotFound("No such resident.", code="resident_not_found")
        resident_id = by.resident_id
    if resident_id is None:
        raise ValidationFailed("resident_id: required when booking for a resident.", code="resident_required")
    channel = data.channel or CHANNELS[kind][0]
    if channel not in CHANNELS[kind]:
        raise ValidationFailed(
            f"channel: {kind} bookings use {' or '.join(CHANNELS[kind])}.", code="channel_not_allowed"
        )

    resident = await residents_service.get(session, resident_id)
    if resident is None:
        raise NotFound("No such resident.", code="resident_not_found")
    offering = await catalog_service.get_offering(session, data.offering_id)
    if offering is None or (kind == "provider" and offering.provider_id != by.provider_id):
        raise NotFound("No such offering.", code="offering_not_found")
    reason = await catalog_service.why_not_bookable(session, offering)
    if reason is not None:
        raise Conflict("This offering does not take bookings now.", code=reason)

    slot = schedule.find_slot(
        data.slot_start,
        weekly_rules=offering.weekly_rules,
        exceptions=offering.exceptions,
        duration_minutes=offering.duration_minutes,
        timezone=offering.timezone,
    )
    if slot is None:
        raise ValidationFailed("slot_start: not a slot of this offering's schedule.", code="slot_not_in_schedule")
    now = utcnow()
    if slot.start <= now:
        raise ValidationFailed("slot_start: this slot has already begun.", code="slot_in_past")

    if not await repository.take_slot_unit(session, offering.id, slot.start, offering.capacity_per_slot):
        raise Conflict("This slot is fully booked; choose another.", code="slot_full")

    local_day = slot.start.astimezone(ZoneInfo(offering.timezone)).date()
    program = await catalog_service.draw_funding(session, offering.id, local_day, resident.eligibility_tags)
    price_fen, subsidy_fen = offering.price_fen, 0
    if program is not None:
        price_fen = program.resident_price_fen
        subsidy_fen = max(program.unit_price_fen - program.resident_price_fen, 0)

    actor = _actor(by)
    booking = Booking(
        id=uuid.uuid4(),
        offering_id=offering.id,
        provider_id=offering.provider_id,
        resident_id=resident.id,
        status=BookingStatus.confirmed if offering.auto_confirm else BookingStatus.requested,
        channel=channel,
        slot_start=slot.start,
        slot_end=slot.end,
        price_fen=price_fen,
        subsidy_fen=subsidy_fen,
        funded_contract_id=program.contract_id if program else None,
        funded_program_id=program.id if program else None,
        booked_by=actor,
        status_actor=actor,
        status_changed_at=now,
    )
    await repository.add(session, booking)
    await emit(session, _event(BookingCreated, booking, status=BookingStatus.requested, actor=actor, at=now))
    if offering.auto_confirm:
        # The offering confirms itself: consumers see the same two steps as for a provider's confirmation.
        await emit(session, _event(BookingConfirmed, booking, actor="system:auto_confirm", at=now))
    return booking


async def get_visible(session: AsyncSession, booking_id: uuid.UUID, *, by: Principal) -> Booking:
    booking = await repository.get(session, booking_id)
    if booking is None or _relation(by, booking) is None:
        raise NotFound("No such booking.", code="booking_not_found")
    return booking


async def change(
    session: AsyncSession, booking_id: uuid.UUID, action_name: str, *, by: Principal, reason: str | None
) -> Booking:
    """Apply ``action_name`` (confirm, reject, cancel, start, complete, no_show) to a booking."""
    action = ACTIONS[action_name]
    booking = await get_visible(session, booking_id, by=by)
    relation = _relation(by, booking)
    if relation == "observer" or (relation == "resident" and not action.resident_may):
        raise Forbidden(f"You may not {action_name.replace('_', ' ')} this booking.")
    if action.needs_reason and not reason:
        raise ValidationFailed(f"reason: required to {action_name}.", code="reason_required")

    current = booking.status
    if action.to not in ALLOWED_TRANSITIONS.get(current, frozenset()):
        raise _invalid(current, action_name)
    now = utcnow()
    actor = _actor(by)
    changed = await repository.change_status(
        session,
        booking.id,
        current=current,
        to=action.to,
        values={"status_actor": actor, "status_reason": reason, "status_changed_at": now},
    )
    await session.refresh(booking)
    if not changed:
        # Another change committed between our read and our write; it won.
        raise _invalid(booking.status, action_name)
    if action.releases_unit:
        await repository.release_slot_unit(session, booking.offering_id, booking.slot_start)
        if booking.funded_program_id is not None:
            await catalog_service.release_funding(session, booking.funded_program_id)
    await emit(session, _event(action.event, booking, actor=actor, reason=reason, at=now))
    return booking


def _invalid(current: BookingStatus, action_name: str) -> InvalidTransition:
    return InvalidTransition(
        f"A {current.value} booking cannot be {ACTIONS[action_name].to.value.replace('_', ' ')}.",
        current_status=current.value,
    )


async def list_visible(
    session: AsyncSession,
    *,
    by: Principal,
    resident_id: uuid.UUID | None,
    status: BookingStatus | None,
    limit: int,
    offset: int,
) -> tuple[list[Booking], int]:
    provider_id = None
    if by.has_any(Role.operator, Role.admin, Role.official):
        pass
    elif by.has_any(Role.provider_admin, Role.provider_staff) and by.provider_id is not None:
        provider_id = by.provider_id
    elif by.has_any(Role.resident) and by.resident_id is not None:
        if resident_id is not None and resident_id != by.resident_id:
            raise NotFound("No such resident.", code="resident_not_found")
        resident_id = by.resident_id
    else:
        raise Forbidden("Only residents, providers and staff list bookings.")
    bookings, total = await repository.list_bookings(
        session, resident_id=resident_id, provider_id=provider_id, status=status, limit=limit, offset=offset
    )
    return list(bookings), total


async def units_held(
    session: AsyncSession, offering_id: uuid.UUID, start: datetime, end: datetime
) -> dict[datetime, int]:
    return await repository.slot_usage(session, offering_id, start, end)


async def to_schemas(session: AsyncSession, bookings: list[Booking], *, viewer: Principal) -> list[s.Booking]:
    residents = await residents_service.summaries(session, (b.resident_id for b in bookings), viewer)
    return [
        s.Booking.model_validate(
            {
                **{field: getattr(b, field) for field in s.Booking.model_fields if field != "resident"},
                "resident": residents.get(b.resident_id),
            }
        )
        for b in bookings
    ]


def _event(
    event_class: type[BookingChanged],
    booking: Booking,
    *,
    actor: str,
    at: datetime,
    status: BookingStatus | None = None,
    reason: str | None = None,
) -> BookingChanged:
    return event_class(
        booking_id=booking.id,
        offering_id=booking.offering_id,
        provider_id=booking.provider_id,
        resident_id=booking.resident_id,
        status=(status or booking.status).value,
        channel=booking.channel,
        slot_start=booking.slot_start,
        slot_end=booking.slot_end,
        price_fen=booking.price_fen,
        funded_contract_id=booking.funded_contract_id,
        subsidy_fen=booking.subsidy_fen,
        actor=actor,
        reason=reason,
        occurred_at=at,
    )
