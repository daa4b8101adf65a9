"""Every SQL statement of the hotline's work list: the open items of every kind, merged, and their follow-ups.

The list reads the tables of the modules whose items it lists (calls, bookings, waitlist, entitlements) in one
query, a union, so that it pages and sorts across kinds in the database rather than in memory."""

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, String, and_, func, literal, or_, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.bookings.models import Booking, BookingStatus
from booking.calls.models import Callback
from booking.entitlements.models import EligibilityRecheck
from booking.waitlist.models import WaitlistEntry
from booking.worklist.models import WorklistFollowUp
from service_kit.db import upsert


def _kind(name: str) -> Any:
    return literal(name, String(24)).label("kind")


async def open_items(
    session: AsyncSession,
    *,
    kinds: Collection[str],
    due_before: datetime,
    past_deadline_by: datetime,
    since: datetime,
    limit: int,
    offset: int,
) -> tuple[Sequence[Row[Any]], int]:
    """The work list's items of ``kinds`` not done, the longest due first: (kind, item_id, resident_id, due_at,
    taken_by, taken_by_name, taken_at). Bookings that ended (expired, no-show) are looked at back to ``since``
    only; a booking still requested is listed once its deadline is before ``past_deadline_by``."""
    parts: list[Any] = []
    if "callback" in kinds:
        parts.append(
            select(_kind("callback"), Callback.id, Callback.resident_id, Callback.due_at).where(
                Callback.status == "due", Callback.due_at <= due_before
            )
        )
    if "unconfirmed_booking" in kinds:
        parts.append(
            select(
                _kind("unconfirmed_booking"), Booking.id, Booking.resident_id, Booking.confirm_by.label("due_at")
            ).where(
                Booking.confirm_by.is_not(None),
                Booking.confirm_by <= past_deadline_by,
                Booking.confirm_by >= since,
                or_(Booking.status == BookingStatus.requested, Booking.status == BookingStatus.expired),
            )
        )
    if "waitlist_offer" in kinds:
        parts.append(
            select(
                _kind("waitlist_offer"),
                WaitlistEntry.id,
                WaitlistEntry.resident_id,
                WaitlistEntry.offered_at.label("due_at"),
            ).where(WaitlistEntry.status == "offered", WaitlistEntry.offered_at <= due_before)
        )
    if "recheck" in kinds:
        parts.append(
            select(
                _kind("recheck"),
                EligibilityRecheck.id,
                EligibilityRecheck.resident_id,
                EligibilityRecheck.opened_at.label("due_at"),
            ).where(EligibilityRecheck.closed_at.is_(None), EligibilityRecheck.opened_at <= due_before)
        )
    if "no_show" in kinds:
        parts.append(
            select(_kind("no_show"), Booking.id, Booking.resident_id, Booking.status_changed_at.label("due_at")).where(
                Booking.status == BookingStatus.no_show,
                Booking.status_changed_at >= since,
                Booking.status_changed_at <= due_before,
            )
        )
    if not parts:
        return [], 0
    merged: Any = union_all(*parts) if len(parts) > 1 else parts[0]
    items = merged.subquery("items")
    f = WorklistFollowUp
    query = (
        select(
            items.c.kind,
            items.c.id.label("item_id"),
            items.c.resident_id,
            items.c.due_at,
            f.taken_by,
            f.taken_by_name,
            f.taken_at,
        )
        .select_from(items)
        .outerjoin(f, and_(f.kind == items.c.kind, f.item_id == items.c.id))
        .where(f.done_at.is_(None))
    )
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.execute(query.order_by(items.c.due_at, items.c.kind, items.c.id).limit(limit).offset(offset))
    return rows.all(), int(total or 0)


async def get(session: AsyncSession, kind: str, item_id: uuid.UUID) -> WorklistFollowUp | None:
    result = await session.execute(
        select(WorklistFollowUp)
        .where(WorklistFollowUp.kind == kind, WorklistFollowUp.item_id == item_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def of_items(session: AsyncSession, kind: str, item_ids: Sequence[uuid.UUID]) -> Sequence[WorklistFollowUp]:
    if not item_ids:
        return []
    result = await session.execute(
        select(WorklistFollowUp)
        .where(WorklistFollowUp.kind == kind, WorklistFollowUp.item_id.in_(list(item_ids)))
        .order_by(WorklistFollowUp.taken_at, WorklistFollowUp.id)
    )
    return result.scalars().all()


async def take(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Record that an operator took an item, unless someone already has: True if this call took it."""
    statement = upsert(session, WorklistFollowUp).values(id=uuid.uuid4(), **values)
    result = await session.execute(statement.on_conflict_do_nothing(index_elements=["kind", "item_id"]))
    return int(getattr(result, "rowcount", 0)) == 1


async def close(session: AsyncSession, kind: str, item_id: uuid.UUID, taken_by: str, values: dict[str, Any]) -> bool:
    """Close an item its taker holds and nobody closed yet (a guarded write: of two racing closes, one wins)."""
    f = WorklistFollowUp
    result = await session.execute(
        update(f)
        .where(f.kind == kind, f.item_id == item_id, f.taken_by == taken_by, f.done_at.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0)) == 1


async def open_taken(session: AsyncSession, kind: str, limit: int) -> Sequence[WorklistFollowUp]:
    """Items of ``kind`` taken and not yet done, the earliest taken first (complaints, which booking does not list)."""
    result = await session.execute(
        select(WorklistFollowUp)
        .where(WorklistFollowUp.kind == kind, WorklistFollowUp.done_at.is_(None))
        .order_by(WorklistFollowUp.taken_at, WorklistFollowUp.id)
        .limit(limit)
    )
    return result.scalars().all()


async def done_by_operator(
    session: AsyncSession, since: datetime, until: datetime
) -> dict[str, tuple[str | None, int]]:
    """Per operator, the work-list items they closed between ``since`` and ``until``."""
    f = WorklistFollowUp
    query = (
        select(f.done_by, func.max(f.done_by_name), func.count())
        .where(f.done_at >= since, f.done_at < until)
        .group_by(f.done_by)
    )
    return {subject or "": (name, count) for subject, name, count in (await session.execute(query)).all()}


async def by_ids(session: AsyncSession, model: Any, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The rows of ``model`` (a callback, booking, waitlist entry or re-check) a page of the list names."""
    if not ids:
        return {}
    result = await session.execute(select(model).where(model.id.in_(list(ids))))
    return {row.id: row for row in result.scalars()}
