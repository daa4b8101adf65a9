"""Every SQL statement of the waitlist module."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.waitlist.models import WaitlistEntry
from service_kit.db import add_unless_taken, reassign
from service_kit.pagination import fetch_page

WAITING = ("waiting", "offered")


async def add(session: AsyncSession, entry: WaitlistEntry) -> bool:
    """Insert ``entry``; False when the resident already waits for the slot (the partial unique index decides)."""
    return await add_unless_taken(session, entry)


async def get(session: AsyncSession, entry_id: uuid.UUID) -> WaitlistEntry | None:
    return await session.get(WaitlistEntry, entry_id)


def _in_slot(offering_id: uuid.UUID, slot_start: datetime) -> Any:
    return and_(
        WaitlistEntry.kind == "slot", WaitlistEntry.offering_id == offering_id, WaitlistEntry.slot_start == slot_start
    )


def _line_of(entry: WaitlistEntry) -> Any:
    if entry.kind == "quota":
        return and_(WaitlistEntry.kind == "quota", WaitlistEntry.program_id == entry.program_id)
    return _in_slot(entry.offering_id, entry.slot_start)


async def position(session: AsyncSession, entry: WaitlistEntry, now: datetime | None = None) -> int:
    """1 for the next to be offered: how many wait in the line before ``entry``, plus one. Given ``now``, a place
    whose slot has passed (the sweep has not ended it yet) is not counted: no unit will ever be offered to it."""
    query = (
        select(func.count())
        .select_from(WaitlistEntry)
        .where(
            _line_of(entry),
            WaitlistEntry.status == "waiting",
            or_(
                WaitlistEntry.joined_at < entry.joined_at,
                and_(WaitlistEntry.joined_at == entry.joined_at, WaitlistEntry.id < entry.id),
            ),
        )
    )
    if now is not None:
        query = query.where(WaitlistEntry.slot_start > now)
    ahead = await session.scalar(query)
    return int(ahead or 0) + 1


async def first_waiting(session: AsyncSession, offering_id: uuid.UUID, slot_start: datetime) -> WaitlistEntry | None:
    return await session.scalar(
        select(WaitlistEntry)
        .where(_in_slot(offering_id, slot_start), WaitlistEntry.status == "waiting")
        .order_by(WaitlistEntry.joined_at, WaitlistEntry.id)
        .limit(1)
    )


async def first_waiting_for_quota(session: AsyncSession, program_id: uuid.UUID, now: datetime) -> WaitlistEntry | None:
    """The first in a programme's quota line whose slot is still ahead."""
    return await session.scalar(
        select(WaitlistEntry)
        .where(
            WaitlistEntry.kind == "quota",
            WaitlistEntry.program_id == program_id,
            WaitlistEntry.status == "waiting",
            WaitlistEntry.slot_start > now,
        )
        .order_by(WaitlistEntry.joined_at, WaitlistEntry.id)
        .limit(1)
    )


async def anyone_waiting_for_quota(session: AsyncSession, program_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(WaitlistEntry.id)
        .where(WaitlistEntry.kind == "quota", WaitlistEntry.program_id == program_id, WaitlistEntry.status == "waiting")
        .limit(1)
    )
    return found is not None


async def programs_waiting(session: AsyncSession, now: datetime, limit: int) -> Sequence[uuid.UUID]:
    """Programmes someone waits for a subsidised unit of (one may have freed without an event: a larger quota)."""
    result = await session.scalars(
        select(WaitlistEntry.program_id)
        .where(
            WaitlistEntry.kind == "quota",
            WaitlistEntry.status == "waiting",
            WaitlistEntry.slot_start > now,
            WaitlistEntry.program_id.is_not(None),
        )
        .group_by(WaitlistEntry.program_id)
        .order_by(WaitlistEntry.program_id)
        .limit(limit)
    )
    return [program_id for program_id in result.all() if program_id is not None]


async def in_line(session: AsyncSession, offering_id: uuid.UUID, slot_start: datetime) -> Sequence[WaitlistEntry]:
    """The slot's entries still in line (offered first, then waiting), in order of joining."""
    result = await session.scalars(
        select(WaitlistEntry)
        .where(_in_slot(offering_id, slot_start), WaitlistEntry.status.in_(WAITING))
        .order_by(WaitlistEntry.joined_at, WaitlistEntry.id)
    )
    return result.all()


async def change(
    session: AsyncSession, entry_id: uuid.UUID, *, current: Sequence[str], values: dict[str, Any], **guards: Any
) -> bool:
    """Move an entry on only if it is still in one of ``current`` (and meets ``guards``): one writer wins."""
    condition = [WaitlistEntry.id == entry_id, WaitlistEntry.status.in_(current)]
    if "expires_after" in guards:
        condition.append(WaitlistEntry.offer_expires_at > guards["expires_after"])
    result = await session.execute(
        update(WaitlistEntry).where(*condition).values(**values).execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


async def overdue_offers(session: AsyncSession, now: datetime, limit: int) -> Sequence[uuid.UUID]:
    result = await session.scalars(
        select(WaitlistEntry.id)
        .where(WaitlistEntry.status == "offered", WaitlistEntry.offer_expires_at <= now)
        .order_by(WaitlistEntry.offer_expires_at, WaitlistEntry.id)
        .limit(limit)
    )
    return result.all()


async def slots_waiting(session: AsyncSession, now: datetime, limit: int) -> Sequence[tuple[uuid.UUID, datetime]]:
    """Upcoming slots someone waits for (a place may have opened there without a cancellation: more capacity)."""
    result = await session.execute(
        select(WaitlistEntry.offering_id, WaitlistEntry.slot_start)
        .where(WaitlistEntry.kind == "slot", WaitlistEntry.status == "waiting", WaitlistEntry.slot_start > now)
        .group_by(WaitlistEntry.offering_id, WaitlistEntry.slot_start)
        .order_by(WaitlistEntry.slot_start, WaitlistEntry.offering_id)
        .limit(limit)
    )
    return [(offering_id, slot_start) for offering_id, slot_start in result.all()]


async def of_series(session: AsyncSession, series_id: uuid.UUID, since: datetime) -> Sequence[uuid.UUID]:
    result = await session.scalars(
        select(WaitlistEntry.id).where(
            WaitlistEntry.series_id == series_id,
            WaitlistEntry.slot_start >= since,
            WaitlistEntry.status.in_(WAITING),
        )
    )
    return result.all()


async def lock_of_series(session: AsyncSession, series_id: uuid.UUID, since: datetime) -> Sequence[WaitlistEntry]:
    """The series' places still in line from ``since``, locked in id order until the commit (a series' cancellation
    holds them before the funding and slots it gives back, as an acceptance of one does)."""
    result = await session.scalars(
        select(WaitlistEntry)
        .where(
            WaitlistEntry.series_id == series_id,
            WaitlistEntry.slot_start >= since,
            WaitlistEntry.status.in_(WAITING),
        )
        .order_by(WaitlistEntry.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.all()


async def by_ids(session: AsyncSession, entry_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, WaitlistEntry]:
    if not entry_ids:
        return {}
    result = await session.scalars(select(WaitlistEntry).where(WaitlistEntry.id.in_(entry_ids)))
    return {entry.id: entry for entry in result}


async def waiting_for_booking(session: AsyncSession, booking_id: uuid.UUID) -> Sequence[WaitlistEntry]:
    """The quota places still in line for a subsidy for ``booking_id``."""
    result = await session.scalars(
        select(WaitlistEntry)
        .where(WaitlistEntry.for_booking_id == booking_id, WaitlistEntry.status.in_(WAITING))
        .order_by(WaitlistEntry.joined_at, WaitlistEntry.id)
    )
    return result.all()


async def in_line_of(session: AsyncSession, resident_id: uuid.UUID) -> Sequence[WaitlistEntry]:
    """The resident's entries still in line (waiting or offered)."""
    result = await session.scalars(
        select(WaitlistEntry).where(WaitlistEntry.resident_id == resident_id, WaitlistEntry.status.in_(WAITING))
    )
    return result.all()


async def end_passed(session: AsyncSession, now: datetime, *, reason: str) -> int:
    """End every place still waiting whose slot has passed (an offered one ends with its offer): no unit or place
    can be offered for a time gone by, and it would count ahead of live places in its line. The number ended."""
    result = await session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.status == "waiting", WaitlistEntry.slot_start <= now)
        .values(status="ended", closed_at=now, closed_by=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def open_of_program(session: AsyncSession, program_id: uuid.UUID) -> Sequence[WaitlistEntry]:
    """The places still in a programme's quota line (waiting or offered), in order of joining."""
    result = await session.scalars(
        select(WaitlistEntry)
        .where(WaitlistEntry.kind == "quota", WaitlistEntry.program_id == program_id, WaitlistEntry.status.in_(WAITING))
        .order_by(WaitlistEntry.joined_at, WaitlistEntry.id)
    )
    return result.all()


async def following(
    session: AsyncSession,
    booking_id: uuid.UUID,
    *,
    resident_id: uuid.UUID | None,
    offering_id: uuid.UUID,
    slot_start: datetime | None,
) -> Sequence[WaitlistEntry]:
    """The quota places in line for a subsidy for ``booking_id``: joined for it, or joined for its slot before she
    booked it (``slot_start``, the booking's time before the change)."""
    mine = WaitlistEntry.for_booking_id == booking_id
    if resident_id is not None and slot_start is not None:
        mine = or_(
            mine,
            and_(
                WaitlistEntry.for_booking_id.is_(None),
                WaitlistEntry.resident_id == resident_id,
                WaitlistEntry.offering_id == offering_id,
                WaitlistEntry.slot_start == slot_start,
            ),
        )
    result = await session.scalars(
        select(WaitlistEntry)
        .where(WaitlistEntry.kind == "quota", WaitlistEntry.status.in_(WAITING), mine)
        .order_by(WaitlistEntry.joined_at, WaitlistEntry.id)
    )
    return result.all()


async def open_in_slot_of(
    session: AsyncSession, resident_id: uuid.UUID, offering_id: uuid.UUID, slot_start: datetime
) -> Sequence[WaitlistEntry]:
    """The resident's open places (of either kind) for a slot: one place per resident and slot may be open."""
    result = await session.scalars(
        select(WaitlistEntry).where(
            WaitlistEntry.resident_id == resident_id,
            WaitlistEntry.offering_id == offering_id,
            WaitlistEntry.slot_start == slot_start,
            WaitlistEntry.status.in_(WAITING),
        )
    )
    return result.all()


async def quota_line(
    session: AsyncSession,
    *,
    program_id: uuid.UUID | None,
    offering_id: uuid.UUID | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[WaitlistEntry], int]:
    """A programme's quota line (or those of every programme funding ``offering_id``) in order of joining, every
    status or ``status``."""
    query = select(WaitlistEntry).where(WaitlistEntry.kind == "quota")
    if program_id is not None:
        query = query.where(WaitlistEntry.program_id == program_id)
    if offering_id is not None:
        query = query.where(WaitlistEntry.offering_id == offering_id)
    if status is not None:
        query = query.where(WaitlistEntry.status == status)
    return await fetch_page(
        session, query.order_by(WaitlistEntry.joined_at, WaitlistEntry.id), limit=limit, offset=offset
    )


async def of_resident(
    session: AsyncSession, resident_id: uuid.UUID, *, open_only: bool, limit: int, offset: int
) -> tuple[Sequence[WaitlistEntry], int]:
    """A resident's places in every line, soonest slot first."""
    query = select(WaitlistEntry).where(WaitlistEntry.resident_id == resident_id)
    if open_only:
        query = query.where(WaitlistEntry.status.in_(WAITING))
    return await fetch_page(
        session, query.order_by(WaitlistEntry.slot_start, WaitlistEntry.id), limit=limit, offset=offset
    )


async def move_resident(session: AsyncSession, from_id: uuid.UUID, to_id: uuid.UUID) -> None:
    """Give every entry of ``from_id`` (and those it made as a helper) to ``to_id``; the caller has ended first
    any entry that would put ``to_id`` in one line twice."""
    await reassign(session, WaitlistEntry.resident_id, from_id, to_id)
    await reassign(session, WaitlistEntry.helper_resident_id, from_id, to_id)
