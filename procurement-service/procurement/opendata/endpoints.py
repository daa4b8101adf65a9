"""OCDS 1.1 open data (Open Contracting): public, no login. Release packages page by contracting process."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Path, Request

from procurement.clock import Now
from procurement.opendata import service
from procurement.opendata.config import ocds_settings
from procurement.performance import schemas as performance_schemas
from procurement.performance import service as performance_service
from service_kit.db import ReadSessionDep
from service_kit.errors import error_responses
from service_kit.links import public_url
from service_kit.pagination import PaginationDep
from service_kit.responses import StandardDocumentResponse
from service_kit.routing import service_router

# OCDS documents keep their standard's dates (a Beijing day as its +08:00 midnight): service_kit.responses.
router = service_router(
    prefix="/open-data/ocds", tags=["open data (OCDS 1.1)"], default_response_class=StandardDocumentResponse
)
# Providers' public standing: past performance, beside the sanctions.
providers_router = service_router(prefix="/open-data/providers", tags=["open data (OCDS 1.1)"])

Ocid = Annotated[str, Path(min_length=1, max_length=120, description="e.g. ocds-lnl0fs-<call or contract id>")]


@router.get(
    "/releases",
    summary="A release package: one release per public change of each contracting process",
    description=(
        "A page holds every release of `limit` contracting processes (published calls for proposals and "
        "contracts signed without a call), oldest process first; `links.next` names the next page. OCDS has no "
        "empty package: before anything is published, or past the last page, the answer is 404 `no_releases`."
    ),
    responses=error_responses(404, 422),
)
async def releases(request: Request, session: ReadSessionDep, page: PaginationDep, now: Now) -> dict[str, Any]:
    settings = ocds_settings()
    next_url = request.url.include_query_params(limit=page.limit, offset=page.offset + page.limit)
    package, _ = await service.release_package(
        session,
        settings=settings,
        base_url=public_url(request, "/"),
        uri=public_url(request),
        next_uri=public_url(request, f"{next_url.path}?{next_url.query}"),
        limit=page.limit,
        offset=page.offset,
        now=now,
    )
    return package


@router.get(
    "/records/{ocid}",
    summary="A record package: every release of one contracting process and the compiled current state",
    responses=error_responses(404, 422),
)
async def record(ocid: Ocid, request: Request, session: ReadSessionDep, now: Now) -> dict[str, Any]:
    return await service.record_package(
        session, ocid, settings=ocds_settings(), base_url=public_url(request, "/"), uri=public_url(request), now=now
    )


@providers_router.get(
    "/{provider_id}/standing",
    response_model=performance_schemas.Standing,
    summary="A provider's public standing: contracts delivered and accepted, historical results, sanctions",
    description=(
        "Good performers are recognised, not only sanctioned ones: every contract of the provider that passed "
        "acceptance (verified deliveries, final evaluation score), its historical projects' results, residents' "
        "satisfaction and its sanctions. 404 `provider_not_found` for a provider procurement has no record of."
    ),
    responses=error_responses(404, 422),
)
async def provider_standing(provider_id: uuid.UUID, session: ReadSessionDep) -> performance_schemas.Standing:
    return await performance_service.standing(session, provider_id)
