"""Report routes live under the complaints and scores prefixes, which the gateway already sends here."""

from typing import Annotated

from fastapi import Depends, Query

from feedback.reports import service
from feedback.reports.schemas import (
    ComplaintReportRow,
    ComplaintsBy,
    NeedReportRow,
    NeedsBy,
    RatingReportRow,
    RatingsBy,
)
from service_kit.auth import Principal, Role, require_roles
from service_kit.db import ReadSessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router
from service_kit.timeutil import Instant

router = service_router(prefix="/api/v1", tags=["reports"])

Official = Annotated[Principal, Depends(require_roles(Role.official, Role.evaluator))]
Since = Annotated[Instant | None, Query(description="From this time (inclusive), ISO 8601 with offset")]
Until = Annotated[Instant | None, Query(description="Until this time (exclusive)")]


@router.get(
    "/complaints/report",
    response_model=Page[ComplaintReportRow],
    summary="Complaints by provider, category, severity, channel, month or street, with SLA attainment",
    responses=error_responses(401, 403, 422),
)
async def complaints_report(
    session: ReadSessionDep,
    principal: Official,
    page: PaginationDep,
    by: ComplaintsBy = ComplaintsBy.provider,
    since: Since = None,
    until: Until = None,
) -> Page[ComplaintReportRow]:
    return await service.complaints_report(session, by=by, page=page, since=since, until=until)


@router.get(
    "/scores/report",
    response_model=Page[RatingReportRow],
    summary="Ratings by provider, offering or month (not by street: ratings do not know the community)",
    responses=error_responses(401, 403, 422),
)
async def ratings_report(
    session: ReadSessionDep,
    principal: Official,
    page: PaginationDep,
    by: RatingsBy = RatingsBy.provider,
    since: Since = None,
    until: Until = None,
) -> Page[RatingReportRow]:
    return await service.ratings_report(session, by=by, page=page, since=since, until=until)


@router.get(
    "/needs/report",
    response_model=Page[NeedReportRow],
    summary="Top needs by street, community or category, each with its most needed category",
    responses=error_responses(401, 403, 422),
)
async def needs_report(
    session: ReadSessionDep,
    principal: Official,
    page: PaginationDep,
    by: NeedsBy = NeedsBy.street,
    since: Since = None,
    until: Until = None,
) -> Page[NeedReportRow]:
    return await service.needs_report(session, by=by, page=page, since=since, until=until)
