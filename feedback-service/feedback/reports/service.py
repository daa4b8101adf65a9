"""Reports for officials. Months are Beijing-time calendar months (``YYYY-MM``).

SLA attainment counts only what can be judged: an acknowledgement is measured once it happened or its deadline
passed (a complaint filed an hour ago counts neither way), likewise a resolution.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.complaints.models import Complaint
from feedback.ratings.models import Rating
from feedback.reports import repository
from feedback.reports.schemas import ComplaintReportRow, ComplaintsBy, RatingReportRow, RatingsBy
from service_kit.errors import ValidationFailed
from service_kit.pagination import Page, Pagination
from service_kit.timeutil import utcnow


def _period(column: Any, since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    if any(t is not None and t.tzinfo is None for t in (since, until)):
        raise ValidationFailed("Give times with their offset, e.g. 2026-11-01T00:00:00+08:00.", code="naive_time")
    if since is not None and until is not None and since >= until:
        raise ValidationFailed("since must come before until.", code="invalid_period")
    where: list[ColumnElement[bool]] = []
    if since is not None:
        where.append(column >= since)
    if until is not None:
        where.append(column < until)
    return where


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def complaints_report(
    session: AsyncSession,
    *,
    by: ComplaintsBy,
    page: Pagination,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> Page[ComplaintReportRow]:
    keys: dict[ComplaintsBy, Any] = {
        ComplaintsBy.provider: Complaint.provider_id,
        ComplaintsBy.category: Complaint.category,
        ComplaintsBy.severity: Complaint.severity,
        ComplaintsBy.channel: Complaint.channel,
        ComplaintsBy.month: repository.local_month(session, Complaint.created_at),
    }
    rows, total = await repository.complaints_by(
        session, keys[by], where=_period(Complaint.created_at, since, until), now=now or utcnow(), page=page
    )
    items = [
        ComplaintReportRow(
            key=str(row.key) if row.key is not None else None,
            complaints=row.complaints,
            open=row.open,
            resolved=row.resolved,
            escalated=row.escalated,
            ack_attainment=_ratio(row.ack_in_time, row.ack_measured),
            resolve_attainment=_ratio(row.resolved_in_time, row.resolve_measured),
        )
        for row in rows
    ]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


async def ratings_report(
    session: AsyncSession,
    *,
    by: RatingsBy,
    page: Pagination,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[RatingReportRow]:
    keys: dict[RatingsBy, Any] = {
        RatingsBy.provider: Rating.provider_id,
        RatingsBy.offering: Rating.offering_id,
        RatingsBy.month: repository.local_month(session, Rating.created_at),
    }
    rows, total = await repository.ratings_by(
        session, keys[by], where=_period(Rating.created_at, since, until), page=page
    )
    items = [
        RatingReportRow(
            key=str(row.key), ratings=row.ratings, average=round(float(row.average), 3), low_ratings=row.low_ratings
        )
        for row in rows
    ]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)
