"""Bookings: who may book what, slots that are never overbooked, funded quotas, and the state machine.

The lock order (issue 17). A booking's units are counted in rows that racing requests update under row locks: the
resident's entitlement usage counters, the programmes' pools, the slots' counters, and the bookings themselves.
Every path that changes them takes their locks in this order, each set sorted, and takes a lock of an earlier kind
only before its first lock of a later one (writing a row it already holds again is free):

1. the series being planned or cancelled (its row), or the waitlist place being accepted;
2. the resident's usage counters (``entitlement_usage``), by programme id, then period start;
3. the programmes' pools (``funded_programs``), by id;
4. the slots' counters (``slot_counters``), by offering, then slot start;
5. the bookings (an insert, whose partial unique index waits for a racing change of the same slot, or an update).

So a booking draws its funding before it takes its slot's unit (``create``); a series locks the funding of all its
dates, then takes their units together (``create_many``); a cancellation, rejection or expiry locks what it gives
back before it changes the booking (``lock_release``), and a series' cancellation all of its dates' before the
first (``booking.series.service.cancel``); a move locks both periods, then both slots (``reschedule``). Two such
requests at once then wait for each other instead of deadlocking (PostgreSQL would abort one: a 500 to the caller,
since ``service_kit.db`` retries no transaction). On SQLite a writing transaction holds the database's write lock
from its BEGIN IMMEDIATE, so there the order changes nothing.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking.audit import service as audit
from booking.availability import schedule
from booking.bookings import repository
from booking.bookings import schemas as s
from booking.bookings.models import Booking, BookingStatus
from booking.catalog import service as catalog_service
from booking.catalog.models import CatalogOffering, FundedProgram
from booking.config import Settings
from booking.entitlements import service as entitlements_service
from booking.residents import helpers as helpers_service
from booking.residents import service as residents_service
from booking.residents.models import Resident
from booking.residents.schemas import HelperLabel, Position
from booking.rules import service as rules_service
from booking.rules.service import Rules
from service_kit import geo
from service_kit.auth import Principal, Role
from service_kit.errors import Conflict, Forbidden, InvalidTransition, LinliError, NotFound, ValidationFailed
from service_kit.events.contracts import (
    BookingCancelled,
    BookingChanged,
    BookingCompleted,
    BookingConfirmed,
    BookingCreated,
    BookingExpired,
    BookingNoShow,
    BookingProviderMissed,
    BookingRejected,
    BookingRepriced,
    BookingRescheduled,
    BookingStarted,
)
from service_kit.events.outbox import emit, emit_many
from service_kit.timeutil import SHANGHAI, utcnow

# The state machine: from each status, the statuses a booking may move to.
ALLOWED_TRANSITIONS: dict[BookingStatus, frozenset[BookingStatus]] = {
    BookingStatus.requested: frozenset(
        {BookingStatus.confirmed, BookingStatus.rejected, BookingStatus.cancelled, BookingStatus.expired}
    ),
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
# The expiry sweep's own action: never offered to a caller.
EXPIRE = Action(BookingStatus.expired, BookingExpired, releases_unit=True)
# Statuses a booking can be moved to another slot in.
RESCHEDULABLE = (BookingStatus.requested, BookingStatus.confirmed)

# Which channel each kind of caller books through (the first is the default).
CHANNELS = {"staff": ("phone", "walk_in"), "resident": ("app",), "provider": ("provider_api",)}


def actor_of(principal: Principal) -> str:
    """How a change's author is recorded: ``role:subject`` (``operator:op-7``, ``resident:…``)."""
    role = sorted(principal.roles)[0] if principal.roles else "unknown"
    return f"{role}:{principal.subject}"[:160]


_actor = actor_of


def channel_for(kind: str, asked: str | None) -> str:
    """The channel a booker of ``kind`` books through: the one asked for if theirs (else 422), or their default."""
    channel = asked or CHANNELS[kind][0]
    if channel not in CHANNELS[kind]:
        raise ValidationFailed(
            f"channel: {kind} bookings use {' or '.join(CHANNELS[kind])}.", code="channel_not_allowed"
        )
    return channel


# An API key's scopes (gateway/gateway/apikeys/schemas.py) for a provider's system.
READ_SCOPE, WRITE_SCOPE = "bookings:read", "bookings:write"


class Owned(Protocol):
    """What the callers' relation is judged on: a booking, or a series or a waitlist place of one."""

    @property
    def provider_id(self) -> uuid.UUID: ...
    @property
    def resident_id(self) -> uuid.UUID: ...


def _relation(principal: Principal, booking: Owned) -> str | None:
    """How the caller stands to a booking: ``staff`` (operator/admin), ``provider`` (its own provider),
    ``resident`` (their own), ``observer`` (an official, read only), or None (not theirs: 404)."""
    if principal.has_any(Role.operator, Role.admin):
        return "staff"
    if principal.has_any(Role.provider_admin, Role.provider_staff) and principal.provider_id == booking.provider_id:
        return "provider"
    # The provider's own system, by API key: it acts on its bookings with the write scope, only reads with read.
    if principal.system_of(booking.provider_id, WRITE_SCOPE):
        return "provider"
    if principal.system_of(booking.provider_id, READ_SCOPE):
        return "observer"
    if principal.has_any(Role.resident) and principal.resident_id == booking.resident_id:
        return "resident"
    if principal.has_any(Role.official):
        return "observer"
    return None


async def relation_to(session: AsyncSession, principal: Principal, booking: Owned) -> str | None:
    """``_relation``, and ``helper`` for the resident's helper (a relative's resident account the resident has
    authorised, with an active grant): they act on the booking as the resident would."""
    relation = _relation(principal, booking)
    if relation is None and await helpers_service.helper_grant_for(session, principal, booking.resident_id):
        return "helper"
    return relation


def _helper_id(principal: Principal, relation: str | None) -> uuid.UUID | None:
    """The helper's own resident id when the caller acts as the resident's helper."""
    return principal.resident_id if relation == "helper" else None


# A resident and their helper are held to the same rules (the cancellation window, what they may do).
RESIDENT_SIDE = ("resident", "helper")


def _provider_people(principal: Principal) -> bool:
    return principal.has_any(Role.provider_admin, Role.provider_staff) and principal.provider_id is not None


def _booker_kind(principal: Principal) -> str:
    if principal.has_any(Role.operator, Role.admin):
        return "staff"
    if _provider_people(principal) or principal.system_of(principal.provider_id, WRITE_SCOPE):
        return "provider"
    if principal.has_any(Role.resident) and principal.resident_id is not None:
        return "resident"
    raise Forbidden("Only operators, residents and providers book services.")


async def quote(
    session: AsyncSession,
    offering_id: uuid.UUID,
    resident_id: uuid.UUID | None,
    on: date | None,
    *,
    by: Principal,
    settings: Settings,
    contract_id: uuid.UUID | None = None,
) -> s.Quote:
    """The price a booking would carry now, funding included, without booking (the operator reads it out)."""
    who = await booker(session, by, resident_id)
    resident = await residents_service.get(session, who.resident_id)
    if resident is None:
        raise NotFound("No such resident.", code="resident_not_found")
    offering = await catalog_service.get_offering(session, offering_id)
    if offering is None or (who.kind == "provider" and offering.provider_id != by.provider_id):
        raise NotFound("No such offering.", code="offering_not_found")
    on = on or utcnow().astimezone(ZoneInfo(offering.timezone)).date()
    pricing, entitlement = await entitlements_service.peek(session, offering, resident, on, claim=contract_id)
    program = pricing.program
    resident_price = program.resident_price_fen if program else offering.price_fen
    rules = await rules_service.for_offering(session, offering.id, settings)
    return s.Quote(
        offering_id=offering.id,
        resident_id=resident.id,
        date=on,
        price_fen=offering.price_fen,
        resident_price_fen=resident_price,
        subsidy_fen=max(program.unit_price_fen - program.resident_price_fen, 0) if program else 0,
        funded=program is not None,
        funded_contract_id=program.contract_id if program else None,
        quota_left=program.quota - program.used if program else None,
        service=service_summary(offering),
        cancellation_rule=cancellation_rule(rules),
        entitlement=entitlement,
        price_note=pricing.note,
        subsidy=pricing.reason or entitlements_service.NOT_FUNDED,
    )


# How an app names where a service is given.
HOME = "door_to_door"
PLACE_LABELS = {HOME: ("at_home", "上门"), "online": ("online", "线上")}


def service_summary(offering: CatalogOffering) -> s.ServiceSummary:
    kind, label = PLACE_LABELS.get(offering.mode, ("at_center", offering.place_name or "到店服务"))
    return s.ServiceSummary(
        offering_name=offering.name_zh,
        offering_name_en=offering.name_en,
        category_code=offering.category_code,
        provider_name=offering.provider_name,
        place=s.Place(kind=kind, label=label, address=offering.place_address if kind == "at_center" else None),
    )


def cancellation_rule(rules: Rules) -> s.CancellationRule:
    minutes = int(rules.cancellation_window.total_seconds() // 60)
    if minutes == 0:
        text = "服务开始前可随时自行取消或改期。"
    else:
        before = f"{minutes // 60}小时" if minutes % 60 == 0 else f"{minutes}分钟"
        text = f"服务开始前{before}以前可自行取消或改期；此后请联系服务商或致电服务中心。"
    return s.CancellationRule(window_minutes=minutes, text=text)


@dataclass(frozen=True)
class Booker:
    """Who books, for whom: ``kind`` (staff, resident, provider), the resident, and the helper acting for them."""

    kind: str
    resident_id: uuid.UUID
    helper_id: uuid.UUID | None


async def booker(session: AsyncSession, by: Principal, resident_id: uuid.UUID | None) -> Booker:
    """The caller as a booker for ``resident_id`` (a resident's own when None): 403 for those who never book, 404
    for a helper without an active grant, 422 when staff name nobody."""
    kind = _booker_kind(by)
    helper_id: uuid.UUID | None = None
    if kind == "resident":
        if resident_id is not None and resident_id != by.resident_id:
            # The resident's helper books for them with their own token, naming them (404 without a grant).
            await helpers_service.require_helper(session, by, resident_id)
            helper_id = by.resident_id
        resident_id = resident_id or by.resident_id
    if resident_id is None:
        raise ValidationFailed("resident_id: required when acting for a resident.", code="resident_required")
    return Booker(kind, resident_id, helper_id)


async def create(
    session: AsyncSession,
    data: s.BookingCreate,
    *,
    by: Principal,
    settings: Settings,
    now: datetime | None = None,
    unit_held: bool = False,
) -> Booking:
    """Book one unit of a slot at ``now`` (default: the present); a series books its dates through ``create_many``,
    which gives each the outcome this gives it. ``unit_held``: the slot's unit is held for the resident already (a
    waitlist offer she accepts) and becomes her booking's."""
    booking, _, _ = await _create(session, data, by=by, settings=settings, now=now, unit_held=unit_held)
    return booking


async def book(
    session: AsyncSession, data: s.BookingCreate, *, by: Principal, settings: Settings, now: datetime | None = None
) -> s.Booking:
    """``create``, answered as the caller sees the booking: from the resident and offering it was made with, which
    the transaction has read already (nothing read again)."""
    booking, resident, offering = await _create(session, data, by=by, settings=settings, now=now)
    return (await to_schemas(session, [booking], viewer=by, known_residents=[resident], known_offerings=[offering]))[0]


async def _create(
    session: AsyncSession,
    data: s.BookingCreate,
    *,
    by: Principal,
    settings: Settings,
    now: datetime | None = None,
    unit_held: bool = False,
) -> tuple[Booking, Resident, CatalogOffering]:
    who = await booker(session, by, data.resident_id)
    kind, resident_id, helper_id = who.kind, who.resident_id, who.helper_id
    channel = channel_for(kind, data.channel)

    resident = await residents_service.get(session, resident_id)
    if resident is None:
        raise NotFound("No such resident.", code="resident_not_found")
    offering = await bookable_offering(session, data.offering_id, who, by=by)

    now = now or utcnow()
    rules = await rules_service.for_offering(session, offering.id, settings)
    slot = _bookable_slot(offering, data.slot_start, rules, now)

    # Who booked for her, written before her funding is drawn: it depends on nothing drawn, and each statement after
    # the draw holds the programme's pool row (every funded booking of the programme waits for it) one more round
    # trip. A refusal below rolls it back with the rest.
    booking_id = uuid.uuid4()
    await audit.record(session, by, resident.id, "book", booking_id=booking_id, helper_resident_id=helper_id)
    # Her funding before the slot's unit (the lock order above); a full slot then undoes the draw with the rest.
    local_day = slot.start.astimezone(ZoneInfo(offering.timezone)).date()
    pricing = await entitlements_service.draw(session, offering, resident, local_day, claim=data.contract_id)
    if not unit_held and not await repository.take_slot_unit(
        session, offering.id, slot.start, offering.capacity_per_slot
    ):
        raise Conflict("This slot is fully booked; choose another.", code="slot_full")

    actor = _actor(by)
    stored = await repository.add(
        session, _new_booking(offering, resident.id, slot, pricing, channel, by, helper_id, rules, now, booking_id)
    )
    if stored is None:
        raise Conflict("The resident already holds a booking of this slot.", code="already_booked")
    booking = stored
    await emit(
        session,
        _event(
            BookingCreated, booking, status=BookingStatus.requested, actor=actor, at=now, helper_resident_id=helper_id
        ),
    )
    if offering.auto_confirm:
        # The offering confirms itself: consumers see the same two steps as for a provider's confirmation.
        await emit(session, _event(BookingConfirmed, booking, actor="system:auto_confirm", at=now))
    return booking, resident, offering


async def create_many(
    session: AsyncSession,
    offering_id: uuid.UUID,
    resident_id: uuid.UUID,
    slot_starts: list[datetime],
    *,
    channel: str | None,
    by: Principal,
    settings: Settings,
    now: datetime,
) -> list[Booking | LinliError]:
    """Book one unit of each of ``slot_starts`` for one resident (a series' dates), with ``create``'s outcome for
    each: the booking, or the refusal ``create`` would have raised for that slot alone.

    What is the same for every date is judged once (the caller, the resident, the offering and its provider, the
    rules, the resident's evidence and the programmes); the slots' units, the resident's entitlement and the
    programmes' pools are taken by guarded set-based writes; the bookings, their audit rows and their events are
    each written in one statement. Should a racing request of the same resident book one of the slots meanwhile,
    the database refuses the bookings together and each date is booked alone through ``create``."""
    try:
        who = await booker(session, by, resident_id)
        channel = channel_for(who.kind, channel)
        resident = await residents_service.get(session, who.resident_id)
        if resident is None:
            raise NotFound("No such resident.", code="resident_not_found")
        offering = await bookable_offering(session, offering_id, who, by=by)
    except LinliError as exc:
        return [exc for _ in slot_starts]
    rules = await rules_service.for_offering(session, offering.id, settings)
    outcomes: list[Booking | LinliError | None] = [None for _ in slot_starts]
    slots: dict[int, schedule.Slot] = {}
    for i, start in enumerate(slot_starts):
        try:
            slots[i] = _bookable_slot(offering, start, rules, now)
        except LinliError as exc:
            outcomes[i] = exc
    try:
        async with session.begin_nested():
            bookings = await _book_together(session, offering, resident, who, channel, slots, outcomes, by, rules, now)
    except IntegrityError:
        request = partial(s.BookingCreate, offering_id=offering.id, resident_id=resident_id, channel=channel)
        # The dates booked one by one lock their funding of several periods and their slots in turn: all the
        # funding first, here (outside the savepoints, so held to the commit), keeps the lock order.
        zone = ZoneInfo(offering.timezone)
        await entitlements_service.lock_funding(
            session, offering, resident, [slot.start.astimezone(zone).date() for slot in slots.values()]
        )
        alone: list[Booking | LinliError] = []
        for start in slot_starts:
            try:
                async with session.begin_nested():
                    alone.append(await create(session, request(slot_start=start), by=by, settings=settings, now=now))
            except LinliError as exc:
                alone.append(exc)
        return alone
    await audit.record_many(
        session,
        by,
        resident.id,
        "book",
        booking_ids=[b.id for b in bookings.values()],
        helper_resident_id=who.helper_id,
    )
    actor, events = _actor(by), list[BookingChanged]()
    for i, booking in bookings.items():
        outcomes[i] = booking
        events.append(
            _event(
                BookingCreated,
                booking,
                status=BookingStatus.requested,
                actor=actor,
                at=now,
                helper_resident_id=who.helper_id,
            )
        )
        if offering.auto_confirm:
            events.append(_event(BookingConfirmed, booking, actor="system:auto_confirm", at=now))
    await emit_many(session, events)
    booked = [outcome for outcome in outcomes if outcome is not None]
    assert len(booked) == len(slot_starts)
    return booked


async def _book_together(
    session: AsyncSession,
    offering: CatalogOffering,
    resident: Resident,
    who: Booker,
    channel: str,
    slots: dict[int, schedule.Slot],
    outcomes: list[Booking | LinliError | None],
    by: Principal,
    rules: Rules,
    now: datetime,
) -> dict[int, Booking]:
    """``create_many``'s writes for the ``slots`` the rules allow: a unit of each slot taken where one is left
    (``outcomes`` says why for the others), the resident's funding drawn, the bookings inserted. The funding of
    every date is locked before the first slot's unit is taken (the lock order above)."""
    zone = ZoneInfo(offering.timezone)
    funding = await entitlements_service.lock_funding(
        session, offering, resident, [slot.start.astimezone(zone).date() for slot in slots.values()]
    )
    starts = [slot.start for slot in slots.values()]
    taken = await repository.take_slot_units(session, offering.id, starts, offering.capacity_per_slot)
    held = await repository.slots_held(session, resident.id, offering.id, starts)
    # As ``create``: a full slot is refused as full, one she holds a unit of as already hers.
    await repository.release_slot_units(session, offering.id, sorted(taken & held))
    slots = dict(slots)
    for i, slot in list(slots.items()):
        if slot.start not in taken:
            outcomes[i] = Conflict("This slot is fully booked; choose another.", code="slot_full")
        elif slot.start in held:
            outcomes[i] = Conflict("The resident already holds a booking of this slot.", code="already_booked")
        else:
            continue
        del slots[i]
    days = [slot.start.astimezone(zone).date() for slot in slots.values()]
    pricings = await entitlements_service.draw_locked(session, funding, offering, days)
    bookings = {
        i: _new_booking(offering, resident.id, slot, pricing, channel, by, who.helper_id, rules, now)
        for (i, slot), pricing in zip(slots.items(), pricings, strict=True)
    }
    await repository.add_many(session, list(bookings.values()))
    return bookings


def _new_booking(
    offering: CatalogOffering,
    resident_id: uuid.UUID,
    slot: schedule.Slot,
    pricing: entitlements_service.Pricing,
    channel: str,
    by: Principal,
    helper_id: uuid.UUID | None,
    rules: Rules,
    now: datetime,
    booking_id: uuid.UUID | None = None,
) -> Booking:
    """The booking of one unit of ``slot`` at ``pricing``'s price, as ``by`` makes it at ``now`` (its id
    ``booking_id``, else a new one)."""
    program = pricing.program
    price_fen, subsidy_fen = offering.price_fen, 0
    if program is not None:
        price_fen = program.resident_price_fen
        subsidy_fen = max(program.unit_price_fen - program.resident_price_fen, 0)
    actor = _actor(by)
    return Booking(
        id=booking_id or uuid.uuid4(),
        offering_id=offering.id,
        provider_id=offering.provider_id,
        resident_id=resident_id,
        status=BookingStatus.confirmed if offering.auto_confirm else BookingStatus.requested,
        channel=channel,
        slot_start=slot.start,
        slot_end=slot.end,
        price_fen=price_fen,
        subsidy_fen=subsidy_fen,
        funded_contract_id=program.contract_id if program else None,
        funded_program_id=program.id if program else None,
        entitlement_period_start=pricing.period_start,
        entitlement_units=pricing.units,
        price_note=pricing.note,
        booked_by=actor,
        booked_by_name=by.name[:100] if by.name else None,
        helper_resident_id=helper_id,
        status_actor=actor,
        status_changed_at=now,
        confirm_by=None if offering.auto_confirm else rules.confirm_by(now, slot.start),
    )


async def bookable_offering(
    session: AsyncSession, offering_id: uuid.UUID, who: Booker, *, by: Principal
) -> CatalogOffering:
    """The offering, if it takes bookings now: 404 when unknown (or another provider's, to a provider), 409 with
    the reason when withdrawn, unpublished or its provider suspended."""
    offering, reason = await catalog_service.offering_to_book(session, offering_id)
    if offering is None or (who.kind == "provider" and offering.provider_id != by.provider_id):
        raise NotFound("No such offering.", code="offering_not_found")
    if reason is not None:
        raise Conflict("This offering does not take bookings now.", code=reason)
    return offering


def upcoming_slot(offering: CatalogOffering, slot_start: datetime, now: datetime) -> schedule.Slot:
    """The offering's slot starting at ``slot_start`` (any offset), if it has not begun by ``now``; else 422."""
    slot = schedule.find_slot(
        slot_start,
        weekly_rules=offering.weekly_rules,
        exceptions=offering.exceptions,
        duration_minutes=offering.duration_minutes,
        timezone=offering.timezone,
    )
    if slot is None:
        raise ValidationFailed("slot_start: not a slot of this offering's schedule.", code="slot_not_in_schedule")
    if slot.start <= now:
        raise ValidationFailed("slot_start: this slot has already begun.", code="slot_in_past")
    return slot


def _bookable_slot(offering: CatalogOffering, slot_start: datetime, rules: Rules, now: datetime) -> schedule.Slot:
    """The offering's slot starting at ``slot_start``, if the booking rules let it be booked ``now``."""
    slot = upcoming_slot(offering, slot_start, now)
    if slot.start < rules.bookable_from(now):
        raise ValidationFailed(
            f"slot_start: book at least {int(rules.min_lead.total_seconds() // 60)} minutes ahead.",
            code="slot_too_soon",
        )
    if slot.start > rules.bookable_until(now):
        raise ValidationFailed(f"slot_start: book at most {rules.horizon.days} days ahead.", code="slot_beyond_horizon")
    return slot


async def relation_or_404(session: AsyncSession, by: Principal, owned: Owned | None, missing: NotFound) -> str:
    """How the caller stands to a booking, series or waitlist place; ``missing`` (404) when it does not exist or is
    none of theirs (another tenant's object is answered as if it did not exist)."""
    relation = await relation_to(session, by, owned) if owned is not None else None
    if relation is None:
        raise missing
    return relation


async def get_visible(session: AsyncSession, booking_id: uuid.UUID, *, by: Principal) -> Booking:
    booking = await repository.get(session, booking_id)
    if booking is None or await relation_to(session, by, booking) is None:
        raise NotFound("No such booking.", code="booking_not_found")
    return booking


async def change(
    session: AsyncSession,
    booking_id: uuid.UUID,
    action_name: str,
    *,
    by: Principal,
    reason: str | None,
    settings: Settings,
    position: Position | None = None,
    now: datetime | None = None,
) -> Booking:
    """Apply ``action_name`` (confirm, reject, cancel, start, complete, no_show) to a booking at ``now``.

    A visit starts no earlier than ``visit_start_margin_minutes`` before its slot and completes no sooner than
    ``visit_min_duration_share`` of its duration after the check-in (both refused, 409); a doubtful check-in is
    accepted and its ``suspect_reasons`` recorded, carried by the started and completed events."""
    action = ACTIONS[action_name]
    booking = await get_visible(session, booking_id, by=by)
    relation = await relation_to(session, by, booking)
    if relation == "observer" or (relation in RESIDENT_SIDE and not action.resident_may):
        raise Forbidden(f"You may not {action_name.replace('_', ' ')} this booking.")
    if action.needs_reason and not reason:
        raise ValidationFailed(f"reason: required to {action_name}.", code="reason_required")
    if position is not None and action_name not in ("start", "complete"):
        raise ValidationFailed(
            "position: only a check-in (start) or check-out (complete) has one.", code="position_not_expected"
        )

    current = booking.status
    if action.to not in ALLOWED_TRANSITIONS.get(current, frozenset()):
        raise _invalid(current, action_name)
    now = now or utcnow()
    if action_name == "start":
        _ensure_may_start(booking, now, settings)
    elif action_name == "complete":
        _ensure_may_complete(booking, now, settings)
    if action_name == "cancel" and relation in RESIDENT_SIDE:
        rules = await rules_service.for_offering(session, booking.offering_id, settings)
        if not rules.resident_may_cancel(booking.slot_start, now):
            raise Conflict(
                "It is too close to the slot to cancel here; the provider or the call center can still cancel.",
                code="outside_cancellation_window",
            )
    if action_name == "confirm" and booking.confirm_by is not None and now >= booking.confirm_by:
        raise Conflict("The time to confirm this booking has passed; it expires.", code="confirmation_deadline_passed")
    actor = _actor(by)
    values: dict[str, Any] = {"status_actor": actor, "status_reason": reason, "status_changed_at": now}
    if action_name == "start":
        values.update(await _check_in(session, booking, actor, position, now, settings))
        values["checked_in_staff_mismatch"] = _staff_mismatch(booking, by)
        values["suspect_reasons"] = _suspect_reasons(booking, values, now, settings)
    elif action_name == "complete":
        values.update(
            checked_out_at=now,
            checked_out_by=actor,
            checked_out_latitude=position.latitude if position else None,
            checked_out_longitude=position.longitude if position else None,
        )
    for _ in range(3):
        unchanged = None
        if action.releases_unit:
            await lock_release(session, [booking])
            unchanged = booking
        changed = await repository.change_status(
            session, booking.id, current=current, to=action.to, values=values, unchanged=unchanged
        )
        was = (booking.slot_start, booking.funded_program_id, booking.entitlement_period_start)
        await session.refresh(booking)
        if changed:
            break
        if booking.status != current:
            # Another change committed between our read and our write; it won.
            raise _invalid(booking.status, action_name)
        if (booking.slot_start, booking.funded_program_id, booking.entitlement_period_start) == was:
            raise _invalid(booking.status, action_name)
        # Moved or re-priced (a waitlist place accepted) between our read and our locks: what it gives back is
        # locked again, as it is now.
    else:
        raise Conflict(
            "The booking changed meanwhile; look at it again.",
            code="booking_changed",
            current_status=booking.status.value,
        )
    await _after_change(session, booking, action)
    helper_id = _helper_id(by, relation)
    await audit.record(
        session, by, booking.resident_id, action_name, booking_id=booking.id, helper_resident_id=helper_id
    )
    await emit(session, _event(action.event, booking, actor=actor, reason=reason, at=now, helper_resident_id=helper_id))
    return booking


def _local(moment: datetime) -> str:
    local = moment.astimezone(SHANGHAI)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def _ensure_may_start(booking: Booking, now: datetime, settings: Settings) -> None:
    """A check-in long before the slot is no evidence of a visit: refused, saying when it may start."""
    may_start_at = booking.slot_start - timedelta(minutes=settings.visit_start_margin_minutes)
    if now < may_start_at:
        raise Conflict(
            f"还不能开始服务：预约时段为{_local(booking.slot_start)}–{booking.slot_end.astimezone(SHANGHAI):%H:%M}，"
            f"最早可于{_local(may_start_at)}签到开始。"
            f" The visit may start from {may_start_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M} (Beijing time).",
            code="visit_too_early",
            may_start_at=may_start_at.astimezone(SHANGHAI).isoformat(),
        )


def _ensure_may_complete(booking: Booking, now: datetime, settings: Settings) -> None:
    """A check-out moments after the check-in is no evidence of a service delivered: refused until the
    configured share of the slot's duration has passed since the check-in."""
    started = booking.checked_in_at or booking.status_changed_at
    may_complete_at = started + (booking.slot_end - booking.slot_start) * settings.visit_min_duration_share
    if now < may_complete_at:
        raise Conflict(
            f"服务时间过短，还不能完成：{_local(started)}签到，最早可于{_local(may_complete_at)}签退完成。"
            f" The visit may be completed from {may_complete_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M} "
            "(Beijing time).",
            code="visit_too_short",
            may_complete_at=may_complete_at.astimezone(SHANGHAI).isoformat(),
        )


def _suspect_reasons(booking: Booking, check_in: dict[str, Any], now: datetime, settings: Settings) -> list[str]:
    """Why a check-in is doubtful evidence (accepted all the same): far from the resident's door, by a staff
    member other than the assigned one, or late in (or after) the slot."""
    reasons = []
    if check_in.get("checked_in_far"):
        reasons.append("far_from_place")
    if check_in.get("checked_in_staff_mismatch"):
        reasons.append("unassigned_staff")
    if now > booking.slot_start + timedelta(minutes=settings.visit_late_minutes) or now >= booking.slot_end:
        reasons.append("outside_window")
    return reasons


async def _check_in(
    session: AsyncSession, booking: Booking, actor: str, position: Position | None, now: datetime, settings: Settings
) -> dict[str, Any]:
    """The check-in evidence, with the distance from where the visit happens when both positions are known: the
    resident's address for a door-to-door visit, the offering's place (a centre) for one given there."""
    values: dict[str, Any] = {"checked_in_at": now, "checked_in_by": actor}
    if position is None:
        return values
    values.update(checked_in_latitude=position.latitude, checked_in_longitude=position.longitude)
    offering = await catalog_service.get_offering(session, booking.offering_id)
    place: tuple[float | None, float | None] = (None, None)
    if offering is not None and offering.mode == "door_to_door":
        resident = await residents_service.get(session, booking.resident_id)
        if resident is not None:
            place = (resident.latitude, resident.longitude)
    elif offering is not None and offering.mode == "at_center":
        place = (offering.latitude, offering.longitude)
    latitude, longitude = place
    if latitude is not None and longitude is not None:
        distance = geo.distance_m(position.latitude, position.longitude, latitude, longitude)
        values.update(checked_in_distance_m=distance, checked_in_far=distance > settings.checkin_far_meters)
    return values


def _staff_mismatch(booking: Booking, by: Principal) -> bool | None:
    """Whether a provider staff member checking in is someone other than the assigned one (None when nobody was
    assigned or the check-in is not by provider staff): flagged for the provider to look at, never refused."""
    if booking.assigned_staff_id is None or not by.has_any(Role.provider_staff):
        return None
    return by.subject != booking.assigned_staff_id


async def assign(session: AsyncSession, booking_id: uuid.UUID, data: s.BookingAssign, *, by: Principal) -> Booking:
    """Name the provider's staff member who delivers a requested or confirmed booking (its provider's admin, or
    an operator); a later assignment replaces an earlier one."""
    booking = await get_visible(session, booking_id, by=by)
    relation = await relation_to(session, by, booking)
    if not (relation == "staff" or (relation == "provider" and by.has_any(Role.provider_admin, Role.provider_system))):
        raise Forbidden("Only the provider's administrator or an operator assigns staff.")
    if booking.status not in RESCHEDULABLE:
        raise InvalidTransition(
            f"A {booking.status.value} booking cannot be assigned staff.", current_status=booking.status.value
        )
    now = utcnow()
    values = {
        "assigned_staff_id": data.staff_id,
        "assigned_staff_name": data.staff_name,
        "relay_number": data.relay_number,
        "assigned_by": _actor(by),
        "assigned_at": now,
        "updated_at": now,
    }
    assigned = await repository.assign_staff(session, booking.id, statuses=RESCHEDULABLE, values=values)
    await session.refresh(booking)
    if not assigned:
        raise InvalidTransition(
            f"A {booking.status.value} booking cannot be assigned staff.", current_status=booking.status.value
        )
    await audit.record(session, by, booking.resident_id, "assign_staff", booking_id=booking.id)
    return booking


VISIT_DETAILS_STATUSES = (BookingStatus.confirmed, BookingStatus.in_service)


async def visit_details(
    session: AsyncSession, booking_id: uuid.UUID, *, by: Principal, now: datetime, settings: Settings
) -> s.VisitDetails:
    """The resident's address, access notes and a number to call, for the staff member assigned to a confirmed
    door-to-door visit, from ``visit_details_lead_minutes`` before its slot until its end; each look is recorded
    in the resident's log. Anyone else (the provider's admin and system included) is refused: they plan from the
    booking's ``visit_area``."""
    booking = await get_visible(session, booking_id, by=by)
    if not (by.has_any(Role.provider_staff) and by.provider_id == booking.provider_id):
        raise Forbidden(
            "只有被指派上门服务的工作人员可以查看居民住址和联系电话。"
            " Only the staff member assigned to the visit sees the address and phone.",
            code="visit_details_for_assigned_staff",
        )
    offering = await catalog_service.get_offering(session, booking.offering_id)
    if offering is None or offering.mode != "door_to_door":
        raise Conflict("这不是上门服务，没有住址可查看。 Not a door-to-door visit.", code="not_a_home_visit")
    if booking.status not in VISIT_DETAILS_STATUSES:
        raise InvalidTransition(
            f"A {booking.status.value} booking has no visit to make.", current_status=booking.status.value
        )
    if booking.assigned_staff_id != by.subject:
        raise Forbidden(
            "这次上门服务没有指派给您，不能查看居民住址和联系电话。 This visit is not assigned to you.",
            code="not_assigned_staff",
        )
    visible_from = booking.slot_start - timedelta(minutes=settings.visit_details_lead_minutes)
    if now < visible_from:
        raise Forbidden(
            f"上门前才能查看住址和电话：最早于{_local(visible_from)}起可查看。"
            f" Shown from {visible_from.astimezone(SHANGHAI):%Y-%m-%d %H:%M} (Beijing time).",
            code="visit_details_not_yet",
            visible_from=visible_from.astimezone(SHANGHAI).isoformat(),
        )
    if now > booking.slot_end:
        raise Forbidden(
            "这次上门服务时段已结束，不能再查看住址和电话。 The visit is over.", code="visit_details_closed"
        )
    resident = await residents_service.get(session, booking.resident_id)
    if resident is None or resident.erased_at is not None:
        raise NotFound("No such resident.", code="resident_not_found")
    await audit.record_reveal(session, by, resident.id, "visit_details", booking_id=booking.id, at=now)
    area = (await residents_service.visit_areas(session, [resident.id])).get(resident.id)
    number_kind = "relay" if booking.relay_number else ("resident_phone" if resident.phone else None)
    return s.VisitDetails(
        booking_id=booking.id,
        resident_name=resident.name,
        address=resident.address,
        access_notes=resident.access_notes,
        callable_number=booking.relay_number or resident.phone,
        number_kind=number_kind,
        visit_area=area,
        visible_from=visible_from,
        visible_until=booking.slot_end,
    )


async def lock_release(
    session: AsyncSession,
    bookings: list[Booking],
    *,
    programs: Sequence[uuid.UUID] = (),
    slots: Sequence[tuple[uuid.UUID, datetime]] = (),
) -> None:
    """Lock what giving back ``bookings``' units changes, in the lock order (the module's docstring): the
    residents' usage counters, the programmes' pools (and ``programs``'), then the slots' counters (and ``slots``:
    offering and start). A cancellation of a series' dates locks them all before it cancels the first."""
    periods: dict[tuple[uuid.UUID, uuid.UUID], set[date]] = {}
    for b in bookings:
        if b.funded_program_id is not None and b.entitlement_period_start is not None:
            periods.setdefault((b.funded_program_id, b.resident_id), set()).add(b.entitlement_period_start)
    for (program_id, resident_id), starts in sorted(periods.items()):
        await entitlements_service.lock_allowance(session, program_id, resident_id, sorted(starts))
    pools = [*programs, *(b.funded_program_id for b in bookings if b.funded_program_id is not None)]
    if pools:
        await catalog_service.lock_programs(session, pools)
    counters = [*slots, *((b.offering_id, b.slot_start) for b in bookings)]
    for offering_id in sorted({offering for offering, _ in counters}):
        await repository.lock_slots(
            session, offering_id, [start for offering, start in counters if offering == offering_id]
        )


async def _after_change(session: AsyncSession, booking: Booking, action: Action) -> None:
    if action.releases_unit:
        await repository.release_slot_unit(session, booking.offering_id, booking.slot_start)
        if booking.funded_program_id is not None:
            await catalog_service.release_funding(session, booking.funded_program_id)
            if booking.entitlement_period_start is not None:
                await entitlements_service.give_back(
                    session,
                    booking.funded_program_id,
                    booking.resident_id,
                    booking.entitlement_period_start,
                    booking.entitlement_units or 1,
                )


async def reschedule(
    session: AsyncSession,
    booking_id: uuid.UUID,
    data: s.BookingReschedule,
    *,
    by: Principal,
    settings: Settings,
    now: datetime | None = None,
) -> Booking:
    """Move a booking to another slot of its offering, atomically: the new slot's unit is taken first, then the
    booking moves by a guarded write, then the old unit is given back. A full slot leaves it unchanged.

    A subsidised booking moved into another period of its programme's personal allowance (30 November to
    2 December) gives its units back to the old period and draws them in the new, in the same transaction. When
    the new period has too few left, the booking is left as it was and the answer is 409 ``entitlement_used_up``
    naming the period and what is left: an operator on the phone expects to keep the resident's November lunch
    rather than move it and silently charge her full price, and can offer a full-price booking of the new day
    instead. The programme's pool is counted over the whole programme, not per period, so the booking keeps its
    unit of the pool. For the same reason a subsidised booking is not moved to a day its programme no longer funds
    (409 ``program_not_funding_then``) or by which her evidence has expired (409 ``evidence_expired``)."""
    booking = await get_visible(session, booking_id, by=by)
    relation = await relation_to(session, by, booking)
    if relation == "observer":
        raise Forbidden("You may not reschedule this booking.")
    current, previous_start = booking.status, booking.slot_start
    if current not in RESCHEDULABLE:
        raise InvalidTransition(f"A {current.value} booking cannot be rescheduled.", current_status=current.value)
    offering = await catalog_service.get_offering(session, booking.offering_id)
    if offering is None:
        raise NotFound("No such offering.", code="offering_not_found")
    reason = await catalog_service.why_not_bookable(session, offering)
    if reason is not None:
        raise Conflict("This offering does not take bookings now.", code=reason)
    now = now or utcnow()
    rules = await rules_service.for_offering(session, offering.id, settings)
    if relation in RESIDENT_SIDE and not rules.resident_may_cancel(previous_start, now):
        raise Conflict(
            "It is too close to the slot to change it here; the provider or the call center can still do it.",
            code="outside_cancellation_window",
        )
    slot = _bookable_slot(offering, data.slot_start, rules, now)
    if slot.start == previous_start:
        raise ValidationFailed("slot_start: the booking is already in this slot.", code="same_slot")
    new_day = slot.start.astimezone(ZoneInfo(offering.timezone)).date()
    if booking.funded_program_id is not None:
        # The subsidy is the new day's to give: a programme ended by then, or evidence expired, refuses the move.
        await entitlements_service.still_funds(
            session, booking.funded_program_id, offering, booking.resident_id, new_day
        )

    # The lock order (the module's docstring): her allowance of both periods, then both slots, then the booking.
    period_start = booking.entitlement_period_start
    if booking.funded_program_id is not None and period_start is not None:
        period_start = await entitlements_service.move_units(
            session,
            booking.funded_program_id,
            booking.resident_id,
            period_start,
            booking.entitlement_units or 1,
            to_day=new_day,
            price_fen=offering.price_fen,
        )
    await repository.lock_slots(session, offering.id, [previous_start, slot.start])
    if not await repository.take_slot_unit(session, offering.id, slot.start, offering.capacity_per_slot):
        raise Conflict("This slot is fully booked; choose another.", code="slot_full")
    actor = _actor(by)
    values: dict[str, Any] = {
        "slot_start": slot.start,
        "slot_end": slot.end,
        "status_actor": actor,
        "status_reason": data.reason,
        "status_changed_at": now,
        "updated_at": now,
        # The resident is reminded again of the new time.
        "reminded_at": None,
    }
    if current == BookingStatus.requested and booking.confirm_by is not None:
        values["confirm_by"] = min(booking.confirm_by, slot.start)
    if period_start != booking.entitlement_period_start:
        values["entitlement_period_start"] = period_start
    moved = await repository.move_slot(session, booking.id, status=current, from_start=previous_start, values=values)
    if moved is None:
        raise Conflict("The resident already holds a booking of this slot.", code="already_booked")
    await session.refresh(booking)
    if not moved:
        # Another change (a cancellation, another reschedule) won; the request's transaction rolls back the
        # unit taken above.
        raise Conflict(
            "The booking changed meanwhile; look at it again.", code="booking_changed", current_status=booking.status
        )
    await repository.release_slot_unit(session, offering.id, previous_start)
    helper_id = _helper_id(by, relation)
    await audit.record(
        session, by, booking.resident_id, "reschedule", booking_id=booking.id, helper_resident_id=helper_id
    )
    await emit(
        session,
        _event(
            BookingRescheduled,
            booking,
            actor=actor,
            reason=data.reason,
            at=now,
            previous_slot_start=previous_start,
            helper_resident_id=helper_id,
        ),
    )
    return booking


async def expire_overdue(
    sessionmaker: async_sessionmaker[AsyncSession], *, batch: int, now: datetime | None = None
) -> int:
    """Expire requested bookings whose provider did not confirm in time; the number expired.

    Each booking expires in its own transaction by a guarded write (``WHERE status = 'requested'``), so a
    confirmation racing the sweep, or the sweep of another replica, wins or loses cleanly: never both."""
    now = now or utcnow()
    async with sessionmaker() as session:
        overdue = await repository.overdue_requested(session, now, batch)
    expired = 0
    for booking_id in overdue:
        async with sessionmaker() as session:
            booking = await repository.get(session, booking_id)
            if booking is None or booking.status != BookingStatus.requested:
                continue
            # What the expiry gives back is locked before the booking changes (the module's lock order).
            await lock_release(session, [booking])
            changed = await repository.change_status(
                session,
                booking_id,
                current=BookingStatus.requested,
                to=BookingStatus.expired,
                values={
                    "status_actor": "system:expiry",
                    "status_reason": "not confirmed in time",
                    "status_changed_at": now,
                },
                unchanged=booking,
            )
            if not changed:
                await session.rollback()
                continue
            await session.refresh(booking)
            await _after_change(session, booking, EXPIRE)
            await emit(
                session, _event(BookingExpired, booking, actor="system:expiry", reason="not confirmed in time", at=now)
            )
            await session.commit()
            expired += 1
    return expired


PROVIDER_MISSED_ACTOR = "system:provider_missed"


async def mark_provider_missed(
    sessionmaker: async_sessionmaker[AsyncSession], *, batch: int, now: datetime | None = None
) -> int:
    """Alert operators to confirmed visits nobody checked in to by the end of their slot; the number marked.

    Each booking is marked once, in its own transaction, by a guarded write (still confirmed, no check-in, not yet
    marked) that also emits ``linli.booking.provider_missed.v1``: a second sweep or another replica finds it
    marked and skips it, and a check-in racing the sweep either wins (no alert) or comes after it (late, suspect).
    """
    now = now or utcnow()
    async with sessionmaker() as session:
        missed = await repository.unstarted_past_slot(session, now, batch)
    marked = 0
    for booking_id in missed:
        async with sessionmaker() as session:
            if not await repository.mark_provider_missed(session, booking_id, now):
                await session.rollback()
                continue
            booking = await repository.get(session, booking_id)
            assert booking is not None
            await session.refresh(booking)
            await emit(
                session,
                _event(
                    BookingProviderMissed,
                    booking,
                    actor=PROVIDER_MISSED_ACTOR,
                    reason="no check-in by the end of the slot",
                    at=now,
                ),
            )
            await session.commit()
            marked += 1
    return marked


def _ensure_alert_reader(by: Principal) -> None:
    if not by.has_any(Role.operator, Role.official, Role.admin):
        raise Forbidden("Only operators, officials and admins see provider-missed alerts.")


async def provider_missed_alerts(
    session: AsyncSession, *, by: Principal, open_only: bool, limit: int, offset: int
) -> tuple[list[Booking], int]:
    """The visits providers did not come to, oldest first (by default only the alerts still open)."""
    _ensure_alert_reader(by)
    bookings, total = await repository.list_provider_missed(session, open_only=open_only, limit=limit, offset=offset)
    return list(bookings), total


async def close_provider_missed(
    session: AsyncSession, booking_id: uuid.UUID, note: str, *, by: Principal, now: datetime
) -> Booking:
    """Close a provider-missed alert with what was done (e.g. the resident was called and rebooked); recorded in
    the audit log as acting for the resident. Closing twice is refused (409)."""
    _ensure_alert_reader(by)
    booking = await get_visible(session, booking_id, by=by)
    if booking.provider_missed_at is None:
        raise Conflict("This booking has no provider-missed alert.", code="no_provider_missed_alert")
    closed = await repository.close_provider_missed(
        session,
        booking.id,
        {
            "provider_missed_closed_at": now,
            "provider_missed_closed_by": _actor(by),
            "provider_missed_note": note,
            "updated_at": now,
        },
    )
    await session.refresh(booking)
    if not closed:
        raise Conflict("This alert is already closed.", code="provider_missed_already_closed")
    await audit.record(session, by, booking.resident_id, "close_provider_missed", booking_id=booking.id)
    return booking


async def move_to_resident(session: AsyncSession, from_id: uuid.UUID, to_id: uuid.UUID) -> int | None:
    """A merged duplicate's bookings (and those they made as a helper) become the survivor's: how many moved, or
    None when both hold an active booking of one slot (the partial unique index refuses the move)."""
    return await repository.move_resident(session, from_id, to_id)


async def all_for_resident(session: AsyncSession, resident_id: uuid.UUID, *, limit: int) -> list[Booking]:
    return list(await repository.all_for_resident(session, resident_id, limit))


async def has_active(session: AsyncSession, resident_id: uuid.UUID) -> bool:
    return await repository.count_active_for_resident(session, resident_id) > 0


async def anonymize_resident(session: AsyncSession, resident_id: uuid.UUID) -> None:
    await repository.anonymize_for_resident(session, resident_id)


def _invalid(current: BookingStatus, action_name: str) -> InvalidTransition:
    return InvalidTransition(
        f"A {current.value} booking cannot be {ACTIONS[action_name].to.value.replace('_', ' ')}.",
        current_status=current.value,
    )


@dataclass(frozen=True)
class BookingSearch:
    """What a list of bookings is narrowed to; every filter narrows, none widens what the caller may see."""

    resident_id: uuid.UUID | None = None
    status: BookingStatus | None = None
    provider_id: uuid.UUID | None = None
    # A whole phone number or its last 4 to 10 digits (operators and admins only).
    phone: str | None = None
    # The slot's local (Beijing) date, or an inclusive range of local dates.
    day: date | None = None
    from_day: date | None = None
    to_day: date | None = None
    # When the booking was made: [created_from, created_before) (the operators' shift queue).
    created_from: datetime | None = None
    created_before: datetime | None = None

    def slot_range(self) -> tuple[datetime | None, datetime | None]:
        if self.day is not None and (self.from_day is not None or self.to_day is not None):
            raise ValidationFailed("Give either date or from/to, not both.", code="date_and_range")
        first, last = (self.day, self.day) if self.day is not None else (self.from_day, self.to_day)
        if first is not None and last is not None and last < first:
            raise ValidationFailed("to: must not be before from.", code="invalid_range")
        start = datetime.combine(first, time(), tzinfo=SHANGHAI) if first is not None else None
        end = datetime.combine(last + timedelta(days=1), time(), tzinfo=SHANGHAI) if last is not None else None
        return start, end


async def list_visible(
    session: AsyncSession, *, by: Principal, search: BookingSearch, limit: int, offset: int
) -> tuple[list[Booking], int]:
    resident_id = search.resident_id
    helper_id: uuid.UUID | None = None
    provider_ids = [search.provider_id] if search.provider_id is not None else []
    if by.has_any(Role.operator, Role.admin, Role.official):
        pass
    elif by.provider_id is not None and (_provider_people(by) or by.system_of(by.provider_id, READ_SCOPE, WRITE_SCOPE)):
        provider_ids.append(by.provider_id)
    elif by.has_any(Role.resident) and by.resident_id is not None:
        if resident_id is not None and resident_id != by.resident_id:
            # The resident's helper sees their bookings (404 without an active grant).
            await helpers_service.require_helper(session, by, resident_id)
            helper_id = by.resident_id
        resident_id = resident_id or by.resident_id
    else:
        raise Forbidden("Only residents, providers and staff list bookings.")
    resident_ids = None
    if search.phone is not None:
        if not by.has_any(Role.operator, Role.admin):
            raise Forbidden("Only operators search bookings by phone.", code="phone_search_not_allowed")
        resident_ids = await residents_service.ids_by_phone(session, search.phone)
    slot_from, slot_until = search.slot_range()
    bookings, total = await repository.list_bookings(
        session,
        resident_id=resident_id,
        provider_ids=provider_ids,
        status=search.status,
        resident_ids=resident_ids,
        slot_from=slot_from,
        slot_until=slot_until,
        created_from=search.created_from,
        created_before=search.created_before,
        limit=limit,
        offset=offset,
    )
    if resident_id is not None:
        await audit.record(session, by, resident_id, "list_bookings", helper_resident_id=helper_id)
    elif search.phone is not None:
        # A search by phone looks at the bookings of each resident it finds.
        for found in dict.fromkeys(b.resident_id for b in bookings):
            await audit.record(session, by, found, "list_bookings")
    return list(bookings), total


async def view(session: AsyncSession, booking_id: uuid.UUID, *, by: Principal) -> Booking:
    """One booking, for someone who may see it; an operator's look is recorded as acting for its resident."""
    booking = await get_visible(session, booking_id, by=by)
    helper_id = _helper_id(by, await relation_to(session, by, booking))
    await audit.record(
        session, by, booking.resident_id, "view_booking", booking_id=booking.id, helper_resident_id=helper_id
    )
    return booking


async def units_held(
    session: AsyncSession, offering_id: uuid.UUID, start: datetime, end: datetime
) -> dict[datetime, int]:
    return await repository.slot_usage(session, offering_id, start, end)


def _position(latitude: float | None, longitude: float | None) -> Position | None:
    if latitude is None or longitude is None:
        return None
    return Position(latitude=latitude, longitude=longitude)


def _visit(b: Booking) -> s.Visit | None:
    if b.checked_in_at is None:
        return None
    return s.Visit(
        checked_in_at=b.checked_in_at,
        checked_in_by=b.checked_in_by,
        checked_in_position=_position(b.checked_in_latitude, b.checked_in_longitude),
        checked_in_distance_m=b.checked_in_distance_m,
        checked_in_far=b.checked_in_far,
        staff_mismatch=b.checked_in_staff_mismatch,
        checked_out_at=b.checked_out_at,
        checked_out_by=b.checked_out_by,
        checked_out_position=_position(b.checked_out_latitude, b.checked_out_longitude),
    )


def _provider_missed(b: Booking) -> s.ProviderMissed | None:
    if b.provider_missed_at is None:
        return None
    return s.ProviderMissed(
        missed_at=b.provider_missed_at,
        closed_at=b.provider_missed_closed_at,
        closed_by=b.provider_missed_closed_by,
        note=b.provider_missed_note,
    )


def _assigned_staff(b: Booking) -> s.AssignedStaff | None:
    if b.assigned_staff_id is None:
        return None
    return s.AssignedStaff(
        staff_id=b.assigned_staff_id,
        staff_name=b.assigned_staff_name,
        assigned_by=b.assigned_by,
        assigned_at=b.assigned_at,
    )


def _booked_by(b: Booking, helpers: dict[tuple[uuid.UUID, uuid.UUID], HelperLabel]) -> s.BookedBy:
    if b.helper_resident_id is not None:
        label = helpers.get((b.resident_id, b.helper_resident_id))
        return s.BookedBy(kind="helper", name=label.name if label else None, helper=label)
    role = b.booked_by.split(":", 1)[0]
    if role in ("operator", "admin"):
        return s.BookedBy(kind="operator", name=b.booked_by_name)
    if role.startswith("provider"):
        return s.BookedBy(kind="provider")
    if role == "resident":
        return s.BookedBy(kind="resident")
    return s.BookedBy(kind="system")


def _mode(offerings: dict[uuid.UUID, CatalogOffering], booking: Booking) -> str | None:
    offering = offerings.get(booking.offering_id)
    return offering.mode if offering is not None else None


async def to_schemas(
    session: AsyncSession,
    bookings: list[Booking],
    *,
    viewer: Principal,
    known_residents: Sequence[Resident] = (),
    known_offerings: Sequence[CatalogOffering] = (),
) -> list[s.Booking]:
    """The bookings as ``viewer`` sees them. ``known_residents`` and ``known_offerings`` (live, not erased: those
    the request has just booked with) are not read again."""
    residents = {r.id: residents_service.summary_of(r, viewer) for r in known_residents}
    if missing := {b.resident_id for b in bookings} - residents.keys():
        residents |= await residents_service.summaries(session, missing, viewer)
    helpers = await helpers_service.helper_labels(
        session, {(b.resident_id, b.helper_resident_id) for b in bookings if b.helper_resident_id is not None}
    )
    offerings = {o.id: o for o in known_offerings}
    if missing := {b.offering_id for b in bookings} - offerings.keys():
        offerings |= await catalog_service.offerings_by_id(session, missing)
    home_visits = [b.resident_id for b in bookings if _mode(offerings, b) == HOME]
    areas = await residents_service.visit_areas(session, home_visits) if home_visits else {}
    computed = (
        "resident",
        "booked_by",
        "service",
        "resident_share_fen",
        "visit_area",
        "visit",
        "assigned_staff",
        "suspect_reasons",
        "provider_missed",
    )
    return [
        s.Booking.model_validate(
            {
                **{field: getattr(b, field) for field in s.Booking.model_fields if field not in computed},
                "resident": residents.get(b.resident_id),
                "booked_by": _booked_by(b, helpers),
                "service": service_summary(offerings[b.offering_id]) if b.offering_id in offerings else None,
                "resident_share_fen": b.price_fen,
                "visit_area": areas.get(b.resident_id) if _mode(offerings, b) == HOME else None,
                "visit": _visit(b),
                "assigned_staff": _assigned_staff(b),
                "suspect_reasons": list(b.suspect_reasons or ()),
                "provider_missed": _provider_missed(b),
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
    **extra: Any,
) -> BookingChanged:
    return event_class(
        **extra,
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
        suspect_reasons=tuple(booking.suspect_reasons or ()),
        occurred_at=at,
    )


# A slot's places, for the waitlist: a place freed is held for the first in line by the same guarded counter every
# booking takes its unit from, so a held offer and a booking can never share one place.
async def units_locked(session: AsyncSession, offering_id: uuid.UUID, slot_start: datetime) -> int:
    return await repository.lock_slot(session, offering_id, slot_start)


async def hold_unit(session: AsyncSession, offering_id: uuid.UUID, slot_start: datetime, capacity: int) -> bool:
    return await repository.take_slot_unit(session, offering_id, slot_start, capacity)


async def give_back_unit(session: AsyncSession, offering_id: uuid.UUID, slot_start: datetime) -> None:
    await repository.release_slot_unit(session, offering_id, slot_start)


async def holds_slot(
    session: AsyncSession, resident_id: uuid.UUID, offering_id: uuid.UUID, slot_start: datetime
) -> bool:
    """Whether the resident already holds an active booking of the slot."""
    return await repository.holds_slot(session, resident_id, offering_id, slot_start)


async def held_booking(
    session: AsyncSession, resident_id: uuid.UUID, offering_id: uuid.UUID, slot_start: datetime
) -> Booking | None:
    """The resident's active booking of the slot, if she holds one."""
    return await repository.held_booking(session, resident_id, offering_id, slot_start)


async def get(session: AsyncSession, booking_id: uuid.UUID) -> Booking | None:
    return await repository.get(session, booking_id)


def may_be_repriced(booking: Booking, now: datetime) -> bool:
    """Whether a subsidy can still be put on the booking: unsubsidised, not begun, not cancelled or ended."""
    return booking.status in RESCHEDULABLE and booking.funded_program_id is None and booking.slot_start > now


async def reprice(
    session: AsyncSession, booking: Booking, program: FundedProgram, *, by: Principal, now: datetime
) -> Booking:
    """Put ``program``'s subsidy on a booking made at the full price: the resident's entitlement for the period of
    its day and one unit of the programme's pool are drawn (the caller has given back the unit it held for her),
    the booking's price and funding change by a guarded write, the change is audited and
    ``linli.booking.repriced.v1`` tells the other services (and the resident) the new price.

    409 ``subsidy_not_available`` (the price note) when her entitlement or the pool gives no unit after all; 409
    ``booking_changed`` when a cancellation, a start or another re-pricing came first. Either way nothing stays
    drawn: the caller's transaction rolls back."""
    offering = await catalog_service.get_offering(session, booking.offering_id)
    resident = await residents_service.get(session, booking.resident_id)
    if offering is None or resident is None:
        raise NotFound("No such booking.", code="booking_not_found")
    day = booking.slot_start.astimezone(ZoneInfo(offering.timezone)).date()
    try:
        pricing = await entitlements_service.draw(session, offering, resident, day, claim=program.contract_id)
    except ValidationFailed as refused:
        # She is no longer eligible (a tag's evidence expired, the programme stopped funding that day).
        reason = (refused.detail or "").split(": ", 1)[-1] or "The subsidy cannot apply to this booking."
        raise Conflict(reason, code="subsidy_not_available") from refused
    if pricing.program is None or pricing.program.id != program.id:
        raise Conflict(pricing.note or "The subsidy cannot apply to this booking.", code="subsidy_not_available")
    previous = booking.price_fen
    actor = _actor(by)
    values: dict[str, Any] = {
        "price_fen": program.resident_price_fen,
        "subsidy_fen": max(program.unit_price_fen - program.resident_price_fen, 0),
        "funded_contract_id": program.contract_id,
        "funded_program_id": program.id,
        "entitlement_period_start": pricing.period_start,
        "entitlement_units": pricing.units,
        "price_note": None,
        "updated_at": now,
    }
    if not await repository.reprice(session, booking.id, statuses=RESCHEDULABLE, after=now, values=values):
        await session.refresh(booking)
        raise Conflict(
            "The booking changed meanwhile; look at it again.",
            code="booking_changed",
            current_status=booking.status.value,
        )
    await session.refresh(booking)
    await audit.record(session, by, booking.resident_id, "reprice", booking_id=booking.id)
    await emit(session, _event(BookingRepriced, booking, actor=actor, at=now, previous_price_fen=previous))
    return booking


async def by_ids(session: AsyncSession, booking_ids: list[uuid.UUID]) -> dict[uuid.UUID, Booking]:
    return await repository.by_ids(session, booking_ids)
