"""Waitlists: who waits for a place in a full slot, and the place offered to the first in line when one frees.

A freed place (a cancellation, a rejection, an expiry, a reschedule away, more capacity) is *held* for the first
in line: the offer takes the slot's unit through the same guarded counter every booking takes its unit from, so a
place is never both offered and booked, nor offered twice. Accepting gives the held unit back and books it through
the single-booking path in the same transaction (its rules, pricing and quota apply); an offer unanswered by its
time is given back and offered to the next."""

import inspect
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking.audit import service as audit
from booking.bookings import schemas as booking_schemas
from booking.bookings import service as bookings_service
from booking.bookings.models import Booking
from booking.catalog import service as catalog_service
from booking.catalog.models import FundedProgram
from booking.config import Settings
from booking.entitlements import service as entitlements_service
from booking.notifications import service as notifications
from booking.residents import helpers as helpers_service
from booking.residents import service as residents_service
from booking.waitlist import repository
from booking.waitlist import schemas as s
from booking.waitlist.models import WaitlistEntry
from service_kit.auth import Principal, Role
from service_kit.db import commit_then_raise
from service_kit.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from service_kit.notify.templates import local_time, yuan
from service_kit.timeutil import utcnow

log = structlog.get_logger("linli.booking.waitlist")


@dataclass(frozen=True)
class OfferTerms:
    """How long an offered place is held, and whether its SMS keeps the quiet hours."""

    hold: timedelta
    quiet_hours: bool = True

    @classmethod
    def of(cls, settings: Settings) -> "OfferTerms":
        return cls(timedelta(minutes=settings.waitlist_offer_hold_minutes), settings.sms_quiet_hours)


async def join(
    session: AsyncSession,
    data: s.WaitlistJoin,
    *,
    by: Principal,
    now: datetime | None = None,
    series_id: uuid.UUID | None = None,
) -> WaitlistEntry:
    """Put a resident in line for a full slot, or (``quota``) for a subsidised unit of a funded programme whose
    quota is used up. A slot with a free place is refused (409 ``slot_not_full``: book it), as is a quota with a
    unit left (409 ``quota_not_full``) or a programme the resident is not eligible for (422 ``not_eligible``); the
    slot's counter and the programme's pool are read under their locks, so a cancellation racing the join is either
    seen (refused) or comes after it (and offers the place to the line, this resident included).

    A resident who holds a full-price booking of the slot (the quota was used up when she booked) waits, in the
    quota line, for a subsidy *for that booking* (``for_booking_id``): accepting the offer re-prices it. One whose
    booking of the slot is subsidised already is refused (409 ``already_subsidised``), as is one whose personal
    allowance for the period is used up (409 ``entitlement_used_up``: a unit would not subsidise her)."""
    now = now or utcnow()
    who = await bookings_service.booker(session, by, data.resident_id)
    resident = await residents_service.get(session, who.resident_id)
    if resident is None:
        raise NotFound("No such resident.", code="resident_not_found")
    offering = await bookings_service.bookable_offering(session, data.offering_id, who, by=by)
    slot = bookings_service.upcoming_slot(offering, data.slot_start, now)
    used = await bookings_service.units_locked(session, offering.id, slot.start)
    held = await bookings_service.held_booking(session, who.resident_id, offering.id, slot.start)
    if held is not None and data.kind != "quota":
        raise Conflict("The resident already holds a booking of this slot.", code="already_booked")
    if held is not None and not bookings_service.may_be_repriced(held, now):
        raise Conflict(
            "该居民的这次预约已按补贴价收费，无需排队。 The resident's booking of this slot is subsidised already.",
            code="already_subsidised",
            booking_id=str(held.id),
        )
    program_id = None
    if data.kind == "slot" and data.contract_id is not None:
        message = "Only a quota waitlist names a contract."
        raise ValidationFailed(
            f"contract_id: {message}",
            code="contract_for_slot_waitlist",
            errors=[{"field": "contract_id", "in": "body", "message": message, "type": "contract_for_slot_waitlist"}],
        )
    if data.kind == "quota":
        # A resident holding a full-price booking of the slot waits for a subsidy for it: her place is hers.
        if held is None and used >= offering.capacity_per_slot:
            raise Conflict("This slot is full: wait for a place in it instead.", code="slot_full")
        day = slot.start.astimezone(ZoneInfo(offering.timezone)).date()
        program = await entitlements_service.quota_to_wait_for(session, offering, resident, day, claim=data.contract_id)
        program_id = program.id
    elif used < offering.capacity_per_slot:
        raise Conflict(
            "This slot still has a free place: book it instead of waiting.",
            code="slot_not_full",
            places_left=offering.capacity_per_slot - used,
        )
    entry = WaitlistEntry(
        id=uuid.uuid4(),
        kind=data.kind,
        program_id=program_id,
        offering_id=offering.id,
        provider_id=offering.provider_id,
        slot_start=slot.start,
        resident_id=who.resident_id,
        status="waiting",
        joined_at=now,
        joined_by=bookings_service.actor_of(by),
        helper_resident_id=who.helper_id,
        series_id=series_id,
        for_booking_id=held.id if held is not None else None,
    )
    if not await repository.add(session, entry):
        raise Conflict("The resident already waits for this slot.", code="already_waiting")
    await audit.record(session, by, who.resident_id, "join_waitlist", helper_resident_id=who.helper_id)
    return entry


async def get_visible(session: AsyncSession, entry_id: uuid.UUID, *, by: Principal) -> tuple[WaitlistEntry, str]:
    entry = await repository.get(session, entry_id)
    missing = NotFound("No such waitlist entry.", code="waitlist_entry_not_found")
    relation = await bookings_service.relation_or_404(session, by, entry, missing)
    assert entry is not None
    return entry, relation


async def accept(
    session: AsyncSession, entry_id: uuid.UUID, *, by: Principal, settings: Settings, now: datetime
) -> Booking:
    """Book the place offered to the resident (the resident, their helper, or an operator), before the offer ends;
    a subsidised unit offered for a booking she already holds re-prices that booking instead."""
    entry, relation = await get_visible(session, entry_id, by=by)
    if relation not in ("staff", "resident", "helper"):
        raise Forbidden("Only the resident, their helper or an operator accepts an offered place.")
    if entry.status == "accepted":
        raise _already_accepted(entry)
    if entry.status != "offered":
        raise InvalidTransition(
            "No place is offered to this resident now.", code="no_offer", current_status=entry.status
        )
    if entry.kind == "quota" and entry.program_id is not None:
        held = await _booking_to_reprice(session, entry)
        if held is not None:
            return await _reprice(session, entry, held, by=by, terms=OfferTerms.of(settings), now=now)
    accepted = await repository.change(
        session,
        entry.id,
        current=("offered",),
        values={"status": "accepted", "closed_at": now, "closed_by": bookings_service.actor_of(by), "updated_at": now},
        expires_after=now,
    )
    if not accepted:
        raise await _why_not_accepted(session, entry)
    # A held place becomes her booking's as it is (the single-booking path takes no other unit of the slot); a held
    # subsidised unit goes back to the pool and the single-booking path draws it at once, in this transaction:
    # nobody else can take it in between (the pool's row stays locked until the commit). Her allowance is locked
    # before the pool, as every booking locks them (``booking.bookings.service``).
    program = None
    if entry.kind == "quota" and entry.program_id is not None:
        program = await catalog_service.get_program(session, entry.program_id)
        if program is not None:
            await _lock_allowance(session, program, entry)
        await catalog_service.release_funding(session, entry.program_id)
    booking = await bookings_service.create(
        session,
        booking_schemas.BookingCreate(
            offering_id=entry.offering_id,
            slot_start=entry.slot_start,
            resident_id=entry.resident_id,
            contract_id=program.contract_id if program is not None else None,
        ),
        by=by,
        settings=settings,
        now=now,
        unit_held=not (entry.kind == "quota" and entry.program_id is not None),
    )
    if program is not None and booking.funded_program_id != program.id:
        # Her own entitlement for the period is used up meanwhile: the offered unit would not make it subsidised.
        raise Conflict(booking.price_note or "The subsidy cannot apply to this booking.", code="subsidy_not_available")
    await repository.change(session, entry.id, current=("accepted",), values={"booking_id": booking.id})
    await session.refresh(entry)
    return booking


async def _lock_allowance(session: AsyncSession, program: FundedProgram, entry: WaitlistEntry) -> None:
    offering = await catalog_service.get_offering(session, entry.offering_id)
    zone = ZoneInfo(offering.timezone if offering is not None else "Asia/Shanghai")
    await entitlements_service.lock_allowance_on(
        session, program, entry.resident_id, entry.slot_start.astimezone(zone).date()
    )


async def _why_not_accepted(session: AsyncSession, entry: WaitlistEntry) -> Conflict:
    """The guarded acceptance lost: to another acceptance of the same offer at that moment (the resident and the
    operator on the phone both confirming), or to the offer's end (the place went to the next in line)."""
    await session.refresh(entry)
    if entry.status == "accepted":
        return _already_accepted(entry)
    return Conflict("The offer has ended; the place went to the next in line.", code="offer_expired")


def _already_accepted(entry: WaitlistEntry) -> Conflict:
    return Conflict(
        "这个名额刚刚已经确认过了（同一个通知的另一次确认），不用再确认。"
        " The offer was just accepted by another acceptance of the same offer; nothing more to do.",
        code="offer_already_accepted",
        booking_id=str(entry.booking_id) if entry.booking_id is not None else None,
    )


async def _booking_to_reprice(session: AsyncSession, entry: WaitlistEntry) -> Booking | None:
    """The booking a quota place re-prices: the one it was joined for, or one of its slot the resident booked at the
    full price after joining (None: accepting books anew)."""
    if entry.for_booking_id is not None:
        booking = await bookings_service.get(session, entry.for_booking_id)
        if booking is None:
            raise NotFound("No such booking.", code="booking_not_found")
        return booking
    return await bookings_service.held_booking(session, entry.resident_id, entry.offering_id, entry.slot_start)


async def _reprice(
    session: AsyncSession, entry: WaitlistEntry, booking: Booking, *, by: Principal, terms: OfferTerms, now: datetime
) -> Booking:
    assert entry.program_id is not None
    if not bookings_service.may_be_repriced(booking, now):
        # Subsidised by the other acceptance of this offer a moment ago (the resident and the operator at once):
        # that is what she is told, not that the unit went on.
        await session.refresh(entry)
        if entry.status == "accepted":
            raise _already_accepted(entry)
        # Cancelled, begun or past by now (or subsidised another way): the offer ends and the unit passes on. The
        # refusal keeps that: the next in line is offered the unit whatever this answer.
        try:
            await _close(session, entry, to="expired", actor="system:waitlist", terms=terms, now=now)
        except InvalidTransition:
            raise await _why_not_accepted(session, entry) from None
        await commit_then_raise(
            session,
            Conflict(
                "这次预约已取消或已开始，补贴名额已转给下一位。"
                " The booking this place waited for is cancelled, begun or past: the unit went to the next in line.",
                code="booking_not_repriceable",
                booking_status=booking.status.value,
            ),
        )
    accepted = await repository.change(
        session,
        entry.id,
        current=("offered",),
        values={"status": "accepted", "closed_at": now, "closed_by": bookings_service.actor_of(by), "updated_at": now},
        expires_after=now,
    )
    if not accepted:
        raise await _why_not_accepted(session, entry)
    program = await catalog_service.get_program(session, entry.program_id)
    if program is None:
        raise Conflict("The programme no longer funds this service.", code="subsidy_not_available")
    # The unit held for her goes back to the pool and the re-pricing draws it at once, in this transaction (the
    # pool's row stays locked until the commit): nobody else takes it in between. Her allowance first: the order
    # every booking locks them in (``booking.bookings.service``).
    await _lock_allowance(session, program, entry)
    await catalog_service.release_funding(session, program.id)
    repriced = await bookings_service.reprice(session, booking, program, by=by, now=now)
    await repository.change(session, entry.id, current=("accepted",), values={"booking_id": repriced.id})
    await session.refresh(entry)
    return repriced


async def end_places_for_booking(
    session: AsyncSession, booking_id: uuid.UUID, *, terms: OfferTerms, now: datetime
) -> int:
    """A booking cancelled, rejected or expired: the quota places waiting for a subsidy for it leave the line (an
    offered unit passes to the next). The number ended."""
    ended = 0
    for entry in await repository.waiting_for_booking(session, booking_id):
        try:
            await _close(session, entry, to="left", actor="system:booking_ended", terms=terms, now=now)
        except InvalidTransition:
            continue
        ended += 1
    return ended


async def anyone_waiting_for_booking(session: AsyncSession, booking_id: uuid.UUID) -> bool:
    return bool(await repository.waiting_for_booking(session, booking_id))


async def anyone_following(
    session: AsyncSession,
    booking_id: uuid.UUID,
    *,
    resident_id: uuid.UUID | None,
    offering_id: uuid.UUID,
    slot_start: datetime | None,
) -> bool:
    return bool(
        await repository.following(
            session, booking_id, resident_id=resident_id, offering_id=offering_id, slot_start=slot_start
        )
    )


async def follow_rescheduled_booking(
    session: AsyncSession,
    booking_id: uuid.UUID,
    *,
    resident_id: uuid.UUID | None,
    offering_id: uuid.UUID,
    previous_slot_start: datetime | None,
    slot_start: datetime,
    terms: OfferTerms,
    now: datetime,
) -> int:
    """A booking moved to another time keeps its places in the quota line, now for the new time: the offer, its
    message and every list name the time she will come (an offer held is held no later than the new start). A place
    joined for the old slot before she booked it now names the booking. The number of places moved."""
    moved = 0
    for entry in await repository.following(
        session, booking_id, resident_id=resident_id, offering_id=offering_id, slot_start=previous_slot_start
    ):
        if entry.slot_start == slot_start and entry.for_booking_id == booking_id:
            continue  # a redelivered event
        # One open place per resident and slot: a place she still held in the new slot's own line waits for
        # nothing now that she has a booking there.
        for other in await repository.open_in_slot_of(session, entry.resident_id, offering_id, slot_start):
            if other.id != entry.id:
                try:
                    await _close(session, other, to="left", actor="system:booking_ended", terms=terms, now=now)
                except InvalidTransition:
                    continue
        values: dict[str, Any] = {"slot_start": slot_start, "for_booking_id": booking_id, "updated_at": now}
        expires = entry.offer_expires_at
        if entry.status == "offered" and expires is not None and expires > slot_start:
            expires = values["offer_expires_at"] = slot_start
        if not await repository.change(session, entry.id, current=(entry.status,), values=values):
            continue
        moved += 1
        if entry.status == "offered" and expires is not None and entry.program_id is not None:
            # The offer she was texted named the old time: she is told the unit is held for the new one.
            await _retell_quota_offer(session, entry, slot_start, expires, terms=terms, now=now)
    return moved


async def _retell_quota_offer(
    session: AsyncSession,
    entry: WaitlistEntry,
    slot_start: datetime,
    expires: datetime,
    *,
    terms: OfferTerms,
    now: datetime,
) -> None:
    assert entry.program_id is not None
    program = await catalog_service.get_program(session, entry.program_id)
    offering = await catalog_service.get_offering(session, entry.offering_id)
    if program is None:
        return
    await notifications.notify(
        session,
        resident_id=entry.resident_id,
        kind="waitlist_quota_offer",
        values={
            "service": offering.name_zh if offering is not None else "",
            "time": local_time(slot_start),
            "price": yuan(program.resident_price_fen),
            "until": local_time(expires),
        },
        event_id=f"waitlist-offer:{entry.id}:{slot_start.isoformat()}",
        subject_id=entry.id,
        now=now,
        about_at=min(slot_start, expires),
        quiet_hours=terms.quiet_hours,
    )


async def end_places_of_programs(session: AsyncSession, programs: Sequence[FundedProgram], *, now: datetime) -> int:
    """A contract ended or stopped funding a service: its quota lines end. Each place still waiting or offered
    ends (``program_ended``; a unit held goes back to the ended pool, offered to nobody), and each resident who
    waited is told once, plainly, that the subsidised places of that service have ended: no offer will come. Runs in
    the caller's transaction (the contract event's); a redelivered event ends and tells nothing twice."""
    ended = 0
    for program in programs:
        told: set[uuid.UUID] = set()
        for entry in await repository.open_of_program(session, program.id):
            if not await repository.change(
                session,
                entry.id,
                current=(entry.status,),
                values={"status": "ended", "closed_at": now, "closed_by": "system:program_ended", "updated_at": now},
            ):
                continue
            ended += 1
            if entry.status == "offered":
                await catalog_service.release_funding(session, program.id)
            if entry.resident_id in told:
                continue
            told.add(entry.resident_id)
            offering = await catalog_service.get_offering(session, program.offering_id)
            await notifications.notify(
                session,
                resident_id=entry.resident_id,
                kind="waitlist_quota_ended",
                values={"service": offering.name_zh if offering is not None else "这项服务"},
                event_id=f"waitlist-quota-ended:{program.id}:{entry.resident_id}",
                subject_id=entry.id,
                now=now,
            )
        if told:
            log.info("ended an ended programme's quota line", program_id=str(program.id), residents=len(told))
    return ended


async def leave(
    session: AsyncSession, entry_id: uuid.UUID, *, by: Principal, terms: OfferTerms, now: datetime
) -> WaitlistEntry:
    """Take a resident out of line (they, their helper, or an operator managing the list); a place held for them
    passes to the next."""
    entry, relation = await get_visible(session, entry_id, by=by)
    if relation not in ("staff", "resident", "helper"):
        raise Forbidden("Only the resident, their helper or an operator takes a place out of line.")
    await _close(session, entry, to="left", actor=bookings_service.actor_of(by), terms=terms, now=now)
    await audit.record(session, by, entry.resident_id, "leave_waitlist")
    return entry


async def _close(
    session: AsyncSession, entry: WaitlistEntry, *, to: str, actor: str, terms: OfferTerms, now: datetime
) -> None:
    was = entry.status
    if was not in repository.WAITING:
        raise InvalidTransition(f"This waitlist entry is {was} already.", current_status=was)
    changed = await repository.change(
        session,
        entry.id,
        current=(was,),
        values={"status": to, "closed_at": now, "closed_by": actor, "updated_at": now},
    )
    await session.refresh(entry)
    if not changed:
        raise InvalidTransition(f"This waitlist entry is {entry.status} already.", current_status=entry.status)
    if was == "offered":
        await _pass_on(session, entry, terms=terms, now=now)


async def _pass_on(session: AsyncSession, entry: WaitlistEntry, *, terms: OfferTerms, now: datetime) -> None:
    """The place (or subsidised unit) held for an entry that left the line goes to the next in it."""
    if entry.kind == "quota" and entry.program_id is not None:
        await catalog_service.release_funding(session, entry.program_id)
        await offer_free_quota(session, entry.program_id, terms=terms, now=now)
    else:
        await bookings_service.give_back_unit(session, entry.offering_id, entry.slot_start)
        await offer_free_places(session, entry.offering_id, entry.slot_start, terms=terms, now=now)


async def move_to_resident(
    session: AsyncSession, from_id: uuid.UUID, to_id: uuid.UUID, *, actor: str, terms: OfferTerms, now: datetime
) -> tuple[int, int]:
    """A merged duplicate's places in line become the survivor's. Where both wait in one line (the same slot),
    the survivor keeps the earlier place and the later entry ends (``left``, closed by ``actor``); a place held
    for the ended entry passes to the next in line. Returns how many of the duplicate's entries still in line
    moved, and how many entries ended."""
    theirs = await repository.in_line_of(session, from_id)
    ours = {(e.offering_id, e.slot_start): e for e in await repository.in_line_of(session, to_id)}
    ended: list[tuple[WaitlistEntry, str]] = []
    for entry in theirs:
        other = ours.get((entry.offering_id, entry.slot_start))
        if other is None:
            continue
        later = max(entry, other, key=lambda e: (e.joined_at, e.id))
        values = {"status": "left", "closed_at": now, "closed_by": actor, "updated_at": now}
        if await repository.change(session, later.id, current=(later.status,), values=values):
            ended.append((later, later.status))
    # The kept entries move before any held place passes on, so an offer never goes to the duplicate.
    await repository.move_resident(session, from_id, to_id)
    for entry, was in ended:
        await session.refresh(entry)
        if was == "offered":
            await _pass_on(session, entry, terms=terms, now=now)
    return len(theirs) - sum(1 for entry, _ in ended if entry.id in {t.id for t in theirs}), len(ended)


async def offer_free_places(
    session: AsyncSession, offering_id: uuid.UUID, slot_start: datetime, *, terms: OfferTerms, now: datetime
) -> int:
    """Offer each free place of the slot to the next in line, holding it for them; the number offered."""
    offering = await catalog_service.get_offering(session, offering_id)
    if offering is None or slot_start <= now or await catalog_service.why_not_bookable(session, offering):
        return 0
    return await _offer_each(
        session,
        hold=lambda: bookings_service.hold_unit(session, offering.id, slot_start, offering.capacity_per_slot),
        give_back=lambda: bookings_service.give_back_unit(session, offering.id, slot_start),
        next_in_line=lambda: repository.first_waiting(session, offering.id, slot_start),
        message=lambda entry, expires: (
            "waitlist_offer",
            {"service": offering.name_zh, "time": local_time(slot_start), "until": local_time(expires)},
        ),
        terms=terms,
        now=now,
    )


async def offer_free_quota(session: AsyncSession, program_id: uuid.UUID, *, terms: OfferTerms, now: datetime) -> int:
    """Offer each free subsidised unit of the programme's pool to the next in its quota line; the number offered."""
    program = await catalog_service.get_program(session, program_id)
    if program is None or not program.active:
        return 0
    offerings: dict[uuid.UUID, str] = {}

    async def message(entry: WaitlistEntry, expires: datetime) -> tuple[str, dict[str, str]]:
        if entry.offering_id not in offerings:
            offering = await catalog_service.get_offering(session, entry.offering_id)
            offerings[entry.offering_id] = offering.name_zh if offering is not None else ""
        shown = yuan(program.resident_price_fen)
        return "waitlist_quota_offer", {
            "service": offerings[entry.offering_id],
            "time": local_time(entry.slot_start),
            "price": shown,
            "until": local_time(expires),
        }

    return await _offer_each(
        session,
        hold=lambda: catalog_service.draw_quota(session, program_id),
        give_back=lambda: catalog_service.release_funding(session, program_id),
        next_in_line=lambda: _next_for_quota(session, program_id, now),
        message=message,
        terms=terms,
        now=now,
    )


async def _next_for_quota(session: AsyncSession, program_id: uuid.UUID, now: datetime) -> WaitlistEntry | None:
    """The first in the programme's quota line a unit can still help: a place waiting for a booking that has been
    cancelled, begun or subsidised meanwhile leaves the line (its event may not have been heard yet)."""
    while True:
        entry = await repository.first_waiting_for_quota(session, program_id, now)
        if entry is None or entry.for_booking_id is None:
            return entry
        booking = await bookings_service.get(session, entry.for_booking_id)
        if booking is not None and bookings_service.may_be_repriced(booking, now):
            return entry
        await repository.change(
            session,
            entry.id,
            current=("waiting",),
            values={"status": "left", "closed_at": now, "closed_by": "system:booking_ended", "updated_at": now},
        )


async def _offer_each(
    session: AsyncSession,
    *,
    hold: Callable[[], Awaitable[bool]],
    give_back: Callable[[], Awaitable[None]],
    next_in_line: Callable[[], Awaitable[WaitlistEntry | None]],
    message: Callable[[WaitlistEntry, datetime], Any],
    terms: OfferTerms,
    now: datetime,
) -> int:
    """Hold each free unit (a slot's place, or a programme's subsidised unit) for the next in line, with a message.

    The unit is taken first (the counter row's lock orders every writer of it), then the first waiting entry is
    moved to ``offered`` by a guarded write: two sweeps, consumers or replicas never offer one unit twice, and a
    unit nobody waits for is given straight back."""
    offered = 0
    while await hold():
        entry = await next_in_line()
        if entry is None:
            await give_back()
            break
        expires = min(now + terms.hold, entry.slot_start)
        if not await repository.change(
            session,
            entry.id,
            current=("waiting",),
            values={"status": "offered", "offered_at": now, "offer_expires_at": expires, "updated_at": now},
        ):
            await give_back()
            continue
        offered += 1
        made = message(entry, expires)
        kind, values = await made if inspect.isawaitable(made) else made
        await notifications.notify(
            session,
            resident_id=entry.resident_id,
            kind=kind,
            values=values,
            event_id=f"waitlist-offer:{entry.id}",
            subject_id=entry.id,
            now=now,
            about_at=min(entry.slot_start, expires),
            quiet_hours=terms.quiet_hours,
        )
        log.info("offered a waitlisted place", entry_id=str(entry.id), kind=entry.kind)
    return offered


async def anyone_waiting(session: AsyncSession, offering_id: uuid.UUID, slot_start: datetime) -> bool:
    return await repository.first_waiting(session, offering_id, slot_start) is not None


async def quota_line_of(session: AsyncSession, contract_id: uuid.UUID, offering_id: uuid.UUID) -> uuid.UUID | None:
    """The programme a subsidised booking of ``contract_id`` drew from, when someone waits for its quota."""
    program = await catalog_service.get_funded_program(session, contract_id, offering_id)
    if program is None or not await repository.anyone_waiting_for_quota(session, program.id):
        return None
    return program.id


async def pass_on_overdue_offers(
    sessionmaker: async_sessionmaker[AsyncSession], *, terms: OfferTerms, batch: int, now: datetime | None = None
) -> int:
    """End the offers unanswered by their time, each in its own transaction, and offer the place to the next in
    line; then offer the places more capacity opened in slots someone waits for, and the subsidised units a larger
    quota (an amended contract) opened in programmes someone waits for. The number of offers ended."""
    now = now or utcnow()
    async with sessionmaker() as session:
        overdue = await repository.overdue_offers(session, now, batch)
    ended = 0
    for entry_id in overdue:
        async with sessionmaker() as session:
            entry = await repository.get(session, entry_id)
            if entry is None or entry.status != "offered":
                continue
            try:
                await _close(session, entry, to="expired", actor="system:waitlist", terms=terms, now=now)
            except InvalidTransition:
                await session.rollback()
                continue
            await session.commit()
            ended += 1
    async with sessionmaker() as session:
        passed = await repository.end_passed(session, now, reason="system:slot_passed")
        await session.commit()
    if passed:
        log.info("ended waitlist places whose slot has passed", count=passed)
    async with sessionmaker() as session:
        slots = await repository.slots_waiting(session, now, batch)
    for offering_id, slot_start in slots:
        async with sessionmaker() as session:
            if await offer_free_places(session, offering_id, slot_start, terms=terms, now=now):
                await session.commit()
    async with sessionmaker() as session:
        programs = await repository.programs_waiting(session, now, batch)
    for program_id in programs:
        async with sessionmaker() as session:
            if await offer_free_quota(session, program_id, terms=terms, now=now):
                await session.commit()
    return ended


async def in_line(
    session: AsyncSession, offering_id: uuid.UUID, slot_start: datetime, *, by: Principal
) -> list[s.WaitlistEntry]:
    """A slot's line, for operators and the offering's provider."""
    if by.has_any(Role.operator, Role.admin, Role.official):
        provider_of = None
    elif by.has_any(Role.provider_admin, Role.provider_staff) and by.provider_id is not None:
        provider_of = by.provider_id
    else:
        raise Forbidden("Only operators and the offering's provider see a slot's waitlist.")
    offering = await catalog_service.get_offering(session, offering_id)
    if offering is None or (provider_of is not None and offering.provider_id != provider_of):
        raise NotFound("No such offering.", code="offering_not_found")
    entries = await repository.in_line(session, offering_id, slot_start)
    shown, position = [], 0
    for entry in entries:
        if entry.status == "waiting":
            position += 1
        shown.append(_schema(entry, position if entry.status == "waiting" else None))
    return shown


async def quota_line(
    session: AsyncSession,
    *,
    by: Principal,
    program_id: uuid.UUID | None,
    contract_id: uuid.UUID | None,
    offering_id: uuid.UUID | None,
    status: str | None,
    limit: int,
    offset: int,
    now: datetime | None = None,
) -> tuple[list[s.ListedWaitlistEntry], int]:
    """A funded programme's quota line, named by its id or by its contract and offering (or every programme's line
    for an offering: the console's waitlist dialog knows the service, not the contract), in order of joining: each
    place's position in its programme's line (while waiting), status, how long an offer is held, and who waits
    (operators, admins and officials; the phone masked for all but staff)."""
    if not by.has_any(Role.operator, Role.admin, Role.official):
        raise Forbidden("Only operators and officials see a programme's quota line.")
    if program_id is not None and (contract_id is not None or offering_id is not None):
        raise _query_problem("program_id", "Give program_id, or offering_id (and contract_id), not both.")
    if program_id is None and offering_id is None:
        raise _query_problem("offering_id", "Give program_id, or offering_id (and contract_id).")
    if program_id is not None or contract_id is not None:
        program = None
        if program_id is not None:
            program = await catalog_service.get_program(session, program_id)
        elif contract_id is not None and offering_id is not None:
            program = await catalog_service.get_funded_program(session, contract_id, offering_id)
        if program is None:
            raise NotFound("No funded programme of this contract for this offering.", code="program_not_found")
        entries, total = await repository.quota_line(
            session, program_id=program.id, offering_id=None, status=status, limit=limit, offset=offset
        )
    else:
        if offering_id is None or await catalog_service.get_offering(session, offering_id) is None:
            raise NotFound("No such offering.", code="offering_not_found")
        entries, total = await repository.quota_line(
            session, program_id=None, offering_id=offering_id, status=status, limit=limit, offset=offset
        )
    residents = await residents_service.summaries(session, (e.resident_id for e in entries), by)
    offerings = await catalog_service.offerings_by_id(session, (e.offering_id for e in entries))
    shown = []
    for entry in entries:
        offering = offerings.get(entry.offering_id)
        shown.append(
            s.ListedWaitlistEntry(
                **(await to_schema(session, entry, now)).model_dump(),
                offering_name=offering.name_zh if offering is not None else None,
                resident=residents.get(entry.resident_id),
            )
        )
    return shown, total


def _query_problem(parameter: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{parameter}: {message}",
        code="program_required",
        errors=[{"field": parameter, "in": "query", "message": message, "type": "program_required"}],
    )


async def of_resident(
    session: AsyncSession,
    resident_id: uuid.UUID,
    *,
    by: Principal,
    open_only: bool,
    limit: int,
    offset: int,
    now: datetime | None = None,
) -> tuple[list[s.ListedWaitlistEntry], int]:
    """A resident's places in slot and quota lines, soonest slot first, for operators, the resident and her
    authorised helper (as her card and bookings are); an operator's or helper's look is recorded for her."""
    helper_id = None
    if residents_service.may_see(by, resident_id):
        resident = await residents_service.get_visible(session, resident_id, by=by)
    else:
        await helpers_service.require_helper(session, by, resident_id)
        helper_id = by.resident_id
        found = await residents_service.get(session, resident_id)
        if found is None:
            raise NotFound("No such resident.", code="resident_not_found")
        resident = found
    entries, total = await repository.of_resident(session, resident.id, open_only=open_only, limit=limit, offset=offset)
    offerings = await catalog_service.offerings_by_id(session, (e.offering_id for e in entries))
    shown = []
    for entry in entries:
        offering = offerings.get(entry.offering_id)
        shown.append(
            s.ListedWaitlistEntry(
                **(await to_schema(session, entry, now)).model_dump(),
                offering_name=offering.name_zh if offering is not None else None,
            )
        )
    await audit.record(session, by, resident.id, "list_waitlist", helper_resident_id=helper_id)
    return shown, total


async def lock_of_series(session: AsyncSession, series_id: uuid.UUID, since: datetime) -> list[WaitlistEntry]:
    """The series' places in line from ``since``, locked (``leave_for_series`` then closes them)."""
    return list(await repository.lock_of_series(session, series_id, since))


async def leave_for_series(
    session: AsyncSession, series_id: uuid.UUID, since: datetime, *, actor: str, terms: OfferTerms, now: datetime
) -> None:
    for entry_id in await repository.of_series(session, series_id, since):
        entry = await repository.get(session, entry_id)
        if entry is not None and entry.status in repository.WAITING:
            await _close(session, entry, to="left", actor=actor, terms=terms, now=now)


async def to_schema(session: AsyncSession, entry: WaitlistEntry, now: datetime | None = None) -> s.WaitlistEntry:
    """The place as its resident and operators see it; given ``now``, its position counts only the live places
    ahead of it (a place whose slot has passed waits for nothing)."""
    position = await repository.position(session, entry, now) if entry.status == "waiting" else None
    return _schema(entry, position)


async def for_export(session: AsyncSession, resident_id: uuid.UUID, *, limit: int) -> list[s.WaitlistEntry]:
    """Every line the resident joined (their data export)."""
    entries, _ = await repository.of_resident(session, resident_id, open_only=False, limit=limit, offset=0)
    return [await to_schema(session, entry) for entry in entries]


async def schemas_of(session: AsyncSession, entry_ids: list[uuid.UUID]) -> dict[uuid.UUID, s.WaitlistEntry]:
    entries = await repository.by_ids(session, entry_ids)
    return {entry_id: await to_schema(session, entry) for entry_id, entry in entries.items()}


# Why the system ended a place (``closed_by``), as the lists show it.
END_REASONS = {
    "system:booking_ended": "booking_ended",
    "system:program_ended": "program_ended",
    "system:slot_passed": "slot_passed",
}


def _schema(entry: WaitlistEntry, position: int | None) -> s.WaitlistEntry:
    computed = ("position", "end_reason")
    return s.WaitlistEntry.model_validate(
        {
            **{field: getattr(entry, field) for field in s.WaitlistEntry.model_fields if field not in computed},
            "position": position,
            "end_reason": END_REASONS.get(entry.closed_by or "") if entry.status not in repository.WAITING else None,
        }
    )
