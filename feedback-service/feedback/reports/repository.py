"""Every SQL statement of the reports: grouped aggregates over complaints, ratings and needs."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.complaints.models import Complaint
from feedback.complaints.repository import UNRESOLVED
from feedback.needs.models import Need
from feedback.ratings.models import Rating
from service_kit.pagination import Pagination


def local_month(session: AsyncSession, column: Any) -> ColumnElement[str]:
    """``YYYY-MM`` of a UTC timestamp, in Beijing time (UTC+8, no daylight saving)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM")
    return func.strftime("%Y-%m", column, "+8 hours")


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def _page_of_groups(session: AsyncSession, query: Any, key: Any, page: Pagination) -> tuple[list[Any], int]:
    rows = await session.execute(query.order_by(key).limit(page.limit).offset(page.offset))
    total = await session.execute(select(func.count()).select_from(query.subquery()))
    return list(rows), int(total.scalar_one())


async def complaints_by(
    session: AsyncSession, key: Any, *, where: Sequence[ColumnElement[bool]], now: datetime, page: Pagination
) -> tuple[list[Any], int]:
    ack_measured = or_(Complaint.acknowledged_at.is_not(None), Complaint.ack_due_at < now)
    resolve_measured = or_(Complaint.resolved_at.is_not(None), Complaint.resolve_due_at < now)
    query = (
        select(
            key.label("key"),
            func.count().label("complaints"),
            _count(Complaint.status.in_(UNRESOLVED)).label("open"),
            _count(Complaint.status.not_in(UNRESOLVED)).label("resolved"),
            _count(or_(Complaint.ack_escalated_at.is_not(None), Complaint.resolve_escalated_at.is_not(None))).label(
                "escalated"
            ),
            _count(ack_measured).label("ack_measured"),
            _count(
                and_(Complaint.acknowledged_at.is_not(None), Complaint.acknowledged_at <= Complaint.ack_due_at)
            ).label("ack_in_time"),
            _count(resolve_measured).label("resolve_measured"),
            _count(and_(Complaint.resolved_at.is_not(None), Complaint.resolved_at <= Complaint.resolve_due_at)).label(
                "resolved_in_time"
            ),
        )
        .where(*where)
        .group_by(key)
    )
    return await _page_of_groups(session, query, key, page)


async def ratings_by(
    session: AsyncSession, key: Any, *, where: Sequence[ColumnElement[bool]], page: Pagination
) -> tuple[list[Any], int]:
    query = (
        select(
            key.label("key"),
            func.count().label("ratings"),
            func.avg(Rating.stars).label("average"),
            _count(Rating.stars <= 2).label("low_ratings"),
        )
        .where(*where)
        .group_by(key)
    )
    return await _page_of_groups(session, query, key, page)


async def needs_by(
    session: AsyncSession, key: Any, *, where: Sequence[ColumnElement[bool]], page: Pagination
) -> tuple[list[Any], int]:
    """Needs counted by key, most first (ties by key; the null key last)."""
    needs = func.count().label("needs")
    query = select(key.label("key"), needs).where(*where).group_by(key)
    rows = await session.execute(query.order_by(needs.desc(), key.is_(None), key).limit(page.limit).offset(page.offset))
    total = await session.execute(select(func.count()).select_from(query.subquery()))
    return list(rows), int(total.scalar_one())


async def top_category_by(
    session: AsyncSession, key: Any, keys: Sequence[str | None], *, where: Sequence[ColumnElement[bool]]
) -> dict[str | None, tuple[str, int]]:
    """For each of ``keys``, its most needed category and how many needs it has (ties: the first code)."""
    if not keys:
        return {}
    named = [k for k in keys if k is not None]
    in_keys = or_(key.in_(named), key.is_(None)) if None in keys else key.in_(named)
    needs = func.count().label("needs")
    rows = await session.execute(
        select(key.label("key"), Need.category_code, needs)
        .where(*where, in_keys)
        .group_by(key, Need.category_code)
        .order_by(needs.desc(), Need.category_code)
    )
    top: dict[str | None, tuple[str, int]] = {}
    for row in rows:
        top.setdefault(row.key, (row.category_code, int(row.needs)))
    return top
