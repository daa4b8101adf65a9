"""Every SQL statement of the waitlist module."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.waitlist.models import WaitlistEntry
from service_kit.db import add_unless_taken

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


async def position(session: AsyncSession, entry: WaitlistEntry) -> int:
    """1 for the next to be offered: how many wait in the slot before ``entry``, plus one."""
    ahead = await session.scalar(
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


async def by_ids(session: AsyncSession, entry_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, WaitlistEntry]:
    if not entry_ids:
        return {}
    result = await session.scalars(select(WaitlistEntry).where(WaitlistEntry.id.in_(entry_ids)))
    return {entry.id: entry for entry in result}


async def of_resident(session: AsyncSession, resident_id: uuid.UUID, *, limit: int) -> Sequence[WaitlistEntry]:
    query = (
        select(WaitlistEntry)
        .where(WaitlistEntry.resident_id == resident_id)
        .order_by(WaitlistEntry.joined_at.desc(), WaitlistEntry.id)
    )
    return (await session.scalars(query.limit(limit))).all()
