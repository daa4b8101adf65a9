"""Reports for officials. Months are Beijing-time calendar months (``YYYY-MM``).

SLA attainment counts only what can be judged: an acknowledgement is measured once it happened or its deadline
passed (a complaint filed an hour ago counts neither way), likewise a resolution.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.complaints.models import Complaint
from feedback.needs.models import Need
from feedback.ratings.models import Rating
from feedback.reports import repository
from feedback.reports.schemas import (
    ComplaintReportRow,
    ComplaintsBy,
    NeedReportRow,
    NeedsBy,
    RatingReportRow,
    RatingsBy,
)
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
        ComplaintsBy.street: Complaint.street_code,
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
    return page.of(items, total)


async def ratings_report(
    session: AsyncSession,
    *,
    by: RatingsBy,
    page: Pagination,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[RatingReportRow]:
    """Ratings by provider, offering or month. Not by street: a rating does not know the resident's community
    (``booking.completed`` carries none), and a street guessed from elsewhere would be invented data."""
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
    return page.of(items, total)


async def needs_report(
    session: AsyncSession,
    *,
    by: NeedsBy,
    page: Pagination,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[NeedReportRow]:
    """The top needs per street, community or category: most needs first, each with its most needed category.
    Streets come from community codes (``<street>.<community>``); needs without one count under a null key."""
    keys: dict[NeedsBy, Any] = {
        NeedsBy.street: Need.street_code,
        NeedsBy.community: Need.community_code,
        NeedsBy.category: Need.category_code,
    }
    key = keys[by]
    where = _period(Need.created_at, since, until)
    rows, total = await repository.needs_by(session, key, where=where, page=page)
    top = await repository.top_category_by(session, key, [row.key for row in rows], where=where)
    items = [
        NeedReportRow(
            key=row.key,
            needs=row.needs,
            top_category_code=top[row.key][0],
            top_category_needs=top[row.key][1],
        )
        for row in rows
    ]
    return page.of(items, total)
