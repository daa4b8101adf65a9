"""Every SQL statement of the bookings module."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from booking.bookings.models import ACTIVE_SQL, ACTIVE_STATUSES, Booking, BookingStatus, SlotCounter
from service_kit.db import InsertUnlessTaken, UpsertOnce, upsert
from service_kit.pagination import fetch_page


async def _counter_row(session: AsyncSession, offering_id: uuid.UUID, slot_start: datetime) -> None:
    """Create the slot's counter row if missing (a concurrent creator's row is kept)."""
    table = SlotCounter.__table__
    await session.execute(
        upsert(session, table)
        .values(offering_id=offering_id, slot_start=slot_start, used=0)
        .on_conflict_do_nothing(index_elements=[table.c.offering_id, table.c.slot_start])
    )


async def take_slot_unit(session: AsyncSession, offering_id: uuid.UUID, slot_start: datetime, capacity: int) -> bool:
    """Hold one unit of a slot; False when all ``capacity`` units are held.

    One statement, ``take_slot_units``' for a single slot: the counter row is created holding the unit, or one
    unit is taken by its ``used < capacity`` guard, which the database applies under the row's lock: however many
    requests race, at most ``capacity`` of them take one.
    """
    return slot_start in await take_slot_units(session, offering_id, [slot_start], capacity)


async def take_slot_units(
    session: AsyncSession, offering_id: uuid.UUID, slot_starts: Sequence[datetime], capacity: int
) -> set[datetime]:
    """Hold one unit of each of the offering's ``slot_starts`` that has one left, in one statement (a series'
    dates): the starts whose unit was taken.

    Each counter row is created holding the unit, or taken by the same guard as ``take_slot_unit`` (``used <
    capacity``), which the database applies to each row under its lock: however many requests race, a slot never
    holds more than ``capacity``. The rows are written in time order, so two series lock shared slots in the same
    order."""
    starts = sorted(set(slot_starts))
    if not starts or capacity < 1:
        return set()
    rows = [{"offering_id": offering_id, "slot_start": start, "used": 1} for start in starts]
    statement, parameters = _take(session), {"capacity": capacity, **(rows[0] if len(rows) == 1 else {})}
    if len(rows) > 1:
        statement = statement.values(rows)  # a series' dates: one multi-row VALUES
    # A booking's one slot: the statement as built once, its row sent as parameters beside the capacity.
    return set((await session.execute(statement, parameters)).scalars().all())


_slots = SlotCounter.__table__
_take = UpsertOnce(
    _slots,
    lambda insert: insert.on_conflict_do_update(
        index_elements=[_slots.c.offering_id, _slots.c.slot_start],
        set_={"used": _slots.c.used + 1},
        where=_slots.c.used < bindparam("capacity"),
    ).returning(_slots.c.slot_start),
)


async def lock_slots(session: AsyncSession, offering_id: uuid.UUID, slot_starts: Sequence[datetime]) -> None:
    """Lock the counter rows of the offering's ``slot_starts`` (each made if missing) in time order, in one
    statement: a transaction that changes several slots' units (a series cancelled, a booking moved) holds them all
    before its first change, so it never waits for one while holding another out of order."""
    starts = sorted(set(slot_starts))
    if not starts:
        return
    table = SlotCounter.__table__
    statement = upsert(
        session, table, [{"offering_id": offering_id, "slot_start": start, "used": 0} for start in starts]
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.offering_id, table.c.slot_start], set_={"used": table.c.used}
        )
    )


async def release_slot_units(session: AsyncSession, offering_id: uuid.UUID, slot_starts: Sequence[datetime]) -> None:
    if slot_starts:
        await session.execute(
            update(SlotCounter)
            .where(
                SlotCounter.offering_id == offering_id,
                SlotCounter.slot_start.in_(list(slot_starts)),
                SlotCounter.used > 0,
            )
            .values(used=SlotCounter.used - 1)
            .execution_options(synchronize_session=False)
        )


async def slots_held(
    session: AsyncSession, resident_id: uuid.UUID, offering_id: uuid.UUID, slot_starts: Sequence[datetime]
) -> set[datetime]:
    """Which of ``slot_starts`` the resident already holds an active booking of."""
    if not slot_starts:
        return set()
    result = await session.scalars(
        select(Booking.slot_start).where(
            Booking.resident_id == resident_id,
            Booking.offering_id == offering_id,
            Booking.slot_start.in_(list(slot_starts)),
            Booking.status.in_(ACTIVE_STATUSES),
        )
    )
    return set(result.all())


async def lock_slot(session: AsyncSession, offering_id: uuid.UUID, slot_start: datetime) -> int:
    """The units of a slot held now, read under the counter row's lock (the row is created if missing): a
    waitlist join and a cancellation of the same slot then happen one after the other, never across each other."""
    await _counter_row(session, offering_id, slot_start)
    used = await session.scalar(
        update(SlotCounter)
        .where(SlotCounter.offering_id == offering_id, SlotCounter.slot_start == slot_start)
        .values(used=SlotCounter.used)
        .returning(SlotCounter.used)
        .execution_options(synchronize_session=False)
    )
    return int(used or 0)


async def holds_slot(
    session: AsyncSession, resident_id: uuid.UUID, offering_id: uuid.UUID, slot_start: datetime
) -> bool:
    found = await session.scalar(
        select(Booking.id)
        .where(
            Booking.resident_id == resident_id,
            Booking.offering_id == offering_id,
            Booking.slot_start == slot_start,
            Booking.status.in_(ACTIVE_STATUSES),
        )
        .limit(1)
    )
    return found is not None


async def by_ids(session: AsyncSession, booking_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Booking]:
    if not booking_ids:
        return {}
    result = await session.scalars(select(Booking).where(Booking.id.in_(booking_ids)))
    return {booking.id: booking for booking in result}


async def release_slot_unit(session: AsyncSession, offering_id: uuid.UUID, slot_start: datetime) -> None:
    await session.execute(
        update(SlotCounter)
        .where(SlotCounter.offering_id == offering_id, SlotCounter.slot_start == slot_start, SlotCounter.used > 0)
        .values(used=SlotCounter.used - 1)
        .execution_options(synchronize_session=False)
    )


async def slot_usage(
    session: AsyncSession, offering_id: uuid.UUID, start: datetime, end: datetime
) -> dict[datetime, int]:
    """Units held per slot start in ``[start, end)``."""
    result = await session.execute(
        select(SlotCounter.slot_start, SlotCounter.used).where(
            SlotCounter.offering_id == offering_id,
            SlotCounter.slot_start >= start,
            SlotCounter.slot_start < end,
        )
    )
    return {slot_start: used for slot_start, used in result.all()}


_insert_unless_taken = InsertUnlessTaken(
    Booking, unique=(Booking.resident_id, Booking.offering_id, Booking.slot_start), where=ACTIVE_SQL
)


async def add(session: AsyncSession, booking: Booking) -> Booking | None:
    """Insert ``booking``, in one statement; None when its resident already holds an active booking of the same
    slot (the partial unique index decides, even when the resident's two requests race). The booking as stored."""
    stored: Booking | None = await _insert_unless_taken(session, booking)
    return stored


async def add_many(session: AsyncSession, bookings: Sequence[Booking]) -> None:
    """Insert ``bookings`` in one statement; an ``IntegrityError`` when a resident already holds one of their
    slots (a racing request booked it): the caller's savepoint then undoes them all."""
    session.add_all(bookings)
    await session.flush()


async def get(session: AsyncSession, booking_id: uuid.UUID) -> Booking | None:
    return await session.get(Booking, booking_id)


async def move_slot(
    session: AsyncSession,
    booking_id: uuid.UUID,
    *,
    status: BookingStatus,
    from_start: datetime,
    values: dict[str, Any],
) -> bool | None:
    """Move a booking to another slot if it is still ``status`` in the slot starting ``from_start``.

    True when moved; False when another change won; None when its resident already holds the new slot."""
    try:
        async with session.begin_nested():
            result = await session.execute(
                update(Booking)
                .where(Booking.id == booking_id, Booking.status == status, Booking.slot_start == from_start)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
    except IntegrityError:
        return None
    return _rowcount(result) == 1


async def overdue_requested(session: AsyncSession, now: datetime, limit: int) -> Sequence[uuid.UUID]:
    """Requested bookings whose confirmation deadline has passed, oldest deadline first."""
    result = await session.execute(
        select(Booking.id)
        .where(Booking.status == BookingStatus.requested, Booking.confirm_by <= now)
        .order_by(Booking.confirm_by, Booking.id)
        .limit(limit)
    )
    return result.scalars().all()


async def due_reminders(
    session: AsyncSession, *, now: datetime, until: datetime, reachable: Select[uuid.UUID], limit: int
) -> Sequence[uuid.UUID]:
    """Confirmed bookings not yet reminded whose slot starts in ``(now, until]``, of residents in ``reachable``."""
    result = await session.execute(
        select(Booking.id)
        .where(
            Booking.status == BookingStatus.confirmed,
            Booking.reminded_at.is_(None),
            Booking.slot_start > now,
            Booking.slot_start <= until,
            Booking.resident_id.in_(reachable),
        )
        .order_by(Booking.slot_start, Booking.id)
        .limit(limit)
    )
    return result.scalars().all()


async def claim_reminder(session: AsyncSession, booking_id: uuid.UUID, now: datetime) -> bool:
    """Mark a confirmed booking reminded; False when it was already reminded (another replica won) or is no
    longer confirmed."""
    result = await session.execute(
        update(Booking)
        .where(
            Booking.id == booking_id,
            Booking.status == BookingStatus.confirmed,
            Booking.reminded_at.is_(None),
        )
        .values(reminded_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def counts_by_channel_and_status(session: AsyncSession) -> Sequence[tuple[str, str, int]]:
    query = select(Booking.channel, Booking.status, func.count()).group_by(Booking.channel, Booking.status)
    return [(channel, status, count) for channel, status, count in await session.execute(query)]


async def all_for_resident(session: AsyncSession, resident_id: uuid.UUID, limit: int) -> Sequence[Booking]:
    result = await session.execute(
        select(Booking).where(Booking.resident_id == resident_id).order_by(Booking.created_at, Booking.id).limit(limit)
    )
    return result.scalars().all()


async def count_active_for_resident(session: AsyncSession, resident_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(Booking)
        .where(Booking.resident_id == resident_id, Booking.status.in_(ACTIVE_STATUSES))
    )
    return int(total or 0)


async def still_funded_by(
    session: AsyncSession, contract_id: uuid.UUID, offering_ids: Sequence[uuid.UUID] | None = None
) -> Sequence[Booking]:
    """The contract's not-yet-delivered bookings (requested, confirmed or in service) that drew on its funding, of
    ``offering_ids`` only when given; oldest first."""
    query = select(Booking).where(Booking.funded_contract_id == contract_id, Booking.status.in_(ACTIVE_STATUSES))
    if offering_ids is not None:
        query = query.where(Booking.offering_id.in_(list(offering_ids)))
    result = await session.execute(query.order_by(Booking.created_at, Booking.id))
    return result.scalars().all()


async def anonymize_for_resident(session: AsyncSession, resident_id: uuid.UUID) -> None:
    """Drop what a resident themself wrote or was named by on their bookings (their account id, their reasons)."""
    await session.execute(
        update(Booking)
        .where(Booking.resident_id == resident_id, Booking.booked_by.like("resident:%"))
        .values(booked_by="resident:erased")
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Booking)
        .where(Booking.resident_id == resident_id, Booking.status_actor.like("resident:%"))
        .values(status_actor="resident:erased", status_reason=None)
        .execution_options(synchronize_session=False)
    )
    # What others wrote about the visit (a reason, an operator's note after calling them) may name or describe
    # them, and where the visit was checked in and out is their home: the distance and the flags stay, for the
    # audit of the delivery, the coordinates go.
    await session.execute(
        update(Booking)
        .where(Booking.resident_id == resident_id)
        .values(
            status_reason=None,
            provider_missed_note=None,
            checked_in_latitude=None,
            checked_in_longitude=None,
            checked_out_latitude=None,
            checked_out_longitude=None,
        )
        .execution_options(synchronize_session=False)
    )


async def change_status(
    session: AsyncSession,
    booking_id: uuid.UUID,
    *,
    current: BookingStatus,
    to: BookingStatus,
    values: dict[str, Any],
    unchanged: Booking | None = None,
) -> bool:
    """Move a booking from ``current`` to ``to``; False if it was no longer ``current`` (another change won), or,
    given ``unchanged``, no longer in its slot and funding (a move or a re-pricing came between)."""
    guards = []
    if unchanged is not None:
        guards = [
            Booking.slot_start == unchanged.slot_start,
            Booking.funded_program_id.is_not_distinct_from(unchanged.funded_program_id),
            Booking.entitlement_period_start.is_not_distinct_from(unchanged.entitlement_period_start),
        ]
    result = await session.execute(
        update(Booking)
        .where(Booking.id == booking_id, Booking.status == current, *guards)
        .values(status=to, **values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def held_booking(
    session: AsyncSession, resident_id: uuid.UUID, offering_id: uuid.UUID, slot_start: datetime
) -> Booking | None:
    """The resident's active booking of the slot (one at most: the partial unique index)."""
    return await session.scalar(
        select(Booking).where(
            Booking.resident_id == resident_id,
            Booking.offering_id == offering_id,
            Booking.slot_start == slot_start,
            Booking.status.in_(ACTIVE_STATUSES),
        )
    )


async def reprice(
    session: AsyncSession,
    booking_id: uuid.UUID,
    *,
    statuses: Sequence[BookingStatus],
    after: datetime,
    values: dict[str, Any],
) -> bool:
    """Put a subsidy on a booking still unsubsidised, in one of ``statuses`` and with its slot after ``after``;
    False when a cancellation, a start or another re-pricing got there first (one writer of the row wins)."""
    result = await session.execute(
        update(Booking)
        .where(
            Booking.id == booking_id,
            Booking.status.in_(statuses),
            Booking.funded_program_id.is_(None),
            Booking.slot_start > after,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def list_bookings(
    session: AsyncSession,
    *,
    resident_id: uuid.UUID | None,
    provider_ids: Sequence[uuid.UUID],
    status: BookingStatus | None,
    resident_ids: Select[uuid.UUID] | None = None,
    slot_from: datetime | None = None,
    slot_until: datetime | None = None,
    created_from: datetime | None = None,
    created_before: datetime | None = None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Booking], int]:
    """Bookings matching every given condition (each narrows the list): a resident, each of ``provider_ids``,
    a status, residents from a subquery (e.g. by phone), slots starting in ``[slot_from, slot_until)``, made in
    ``[created_from, created_before)``."""
    conditions = []
    if resident_id is not None:
        conditions.append(Booking.resident_id == resident_id)
    for provider_id in provider_ids:
        conditions.append(Booking.provider_id == provider_id)
    if status is not None:
        conditions.append(Booking.status == status)
    if resident_ids is not None:
        conditions.append(Booking.resident_id.in_(resident_ids))
    if slot_from is not None:
        conditions.append(Booking.slot_start >= slot_from)
    if slot_until is not None:
        conditions.append(Booking.slot_start < slot_until)
    if created_from is not None:
        conditions.append(Booking.created_at >= created_from)
    if created_before is not None:
        conditions.append(Booking.created_at < created_before)
    query = select(Booking).where(*conditions).order_by(Booking.created_at.desc(), Booking.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def assign_staff(
    session: AsyncSession, booking_id: uuid.UUID, *, statuses: Sequence[BookingStatus], values: dict[str, Any]
) -> bool:
    """Record the assigned staff member if the booking is still in one of ``statuses``."""
    result = await session.execute(
        update(Booking)
        .where(Booking.id == booking_id, Booking.status.in_(statuses))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


async def unstarted_past_slot(session: AsyncSession, now: datetime, limit: int) -> Sequence[uuid.UUID]:
    """Confirmed bookings whose slot ended by ``now`` with no check-in, not yet marked provider-missed."""
    result = await session.execute(
        select(Booking.id)
        .where(
            Booking.status == BookingStatus.confirmed,
            Booking.slot_end <= now,
            Booking.checked_in_at.is_(None),
            Booking.provider_missed_at.is_(None),
        )
        .order_by(Booking.slot_end, Booking.id)
        .limit(limit)
    )
    return result.scalars().all()


async def mark_provider_missed(session: AsyncSession, booking_id: uuid.UUID, now: datetime) -> bool:
    """Mark a confirmed, never checked-in booking provider-missed; False when already marked (another replica
    won) or when it changed meanwhile (checked in, cancelled)."""
    result = await session.execute(
        update(Booking)
        .where(
            Booking.id == booking_id,
            Booking.status == BookingStatus.confirmed,
            Booking.checked_in_at.is_(None),
            Booking.provider_missed_at.is_(None),
        )
        .values(provider_missed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def list_provider_missed(
    session: AsyncSession, *, open_only: bool, limit: int, offset: int
) -> tuple[Sequence[Booking], int]:
    """Provider-missed alerts, oldest first; ``open_only``: those no operator has closed yet."""
    query = select(Booking).where(Booking.provider_missed_at.is_not(None))
    if open_only:
        query = query.where(Booking.provider_missed_closed_at.is_(None))
    query = query.order_by(Booking.provider_missed_at, Booking.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def close_provider_missed(session: AsyncSession, booking_id: uuid.UUID, values: dict[str, Any]) -> bool:
    """Close a booking's provider-missed alert if it is open; False when it was closed meanwhile."""
    result = await session.execute(
        update(Booking)
        .where(
            Booking.id == booking_id,
            Booking.provider_missed_at.is_not(None),
            Booking.provider_missed_closed_at.is_(None),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def move_resident(session: AsyncSession, from_id: uuid.UUID, to_id: uuid.UUID) -> int | None:
    """Give ``from_id``'s bookings to ``to_id`` (and those ``from_id`` made as a helper): the number of bookings
    moved, or None when the two hold an active booking of one slot (the partial unique index refuses)."""
    try:
        async with session.begin_nested():
            result = await session.execute(
                update(Booking)
                .where(Booking.resident_id == from_id)
                .values(resident_id=to_id)
                .execution_options(synchronize_session=False)
            )
            await session.execute(
                update(Booking)
                .where(Booking.helper_resident_id == from_id)
                .values(helper_resident_id=to_id)
                .execution_options(synchronize_session=False)
            )
    except IntegrityError:
        return None
    return _rowcount(result)
