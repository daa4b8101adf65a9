"""Every SQL statement of the reports: grouped aggregates over complaints and ratings."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.complaints.models import Complaint
from feedback.complaints.repository import UNRESOLVED
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
