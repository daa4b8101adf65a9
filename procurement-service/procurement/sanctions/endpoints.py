from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query

from procurement.auth import Official, OfficialReader
from procurement.clock import Now
from procurement.sanctions import schemas, service
from procurement.sanctions.models import SanctionStatus
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/sanctions", tags=["sanctions"])


@router.get(
    "",
    response_model=Page[schemas.Sanction],
    summary="Sanctions of providers (优胜劣汰), newest first",
    responses=error_responses(401, 403, 422),
)
async def list_sanctions(
    session: SessionDep,
    principal: OfficialReader,
    page: PaginationDep,
    provider_id: Annotated[uuid.UUID | None, Query(description="Only this provider's sanctions.")] = None,
    status: Annotated[SanctionStatus | None, Query(description="Only sanctions in this status.")] = None,
) -> Page[schemas.Sanction]:
    items, total = await service.list_page(
        session,
        provider_id=provider_id,
        status=status,
        limit=page.limit,
        offset=page.offset,
        street_code=principal.street_code,
    )
    return page.of(items, total)


@router.get(
    "/{sanction_id}",
    response_model=schemas.Sanction,
    summary="A sanction",
    responses=error_responses(401, 403, 404, 422),
)
async def get_sanction(sanction_id: uuid.UUID, session: SessionDep, principal: OfficialReader) -> schemas.Sanction:
    return service.view(await service.get_sanction(session, sanction_id, by=principal))


@router.post(
    "/{sanction_id}/lift",
    response_model=schemas.Sanction,
    summary="Lift an active sanction, giving the reason: the provider may apply again (provider.restored)",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def lift_sanction(
    sanction_id: uuid.UUID, data: schemas.SanctionLift, session: SessionDep, principal: Official, now: Now
) -> schemas.Sanction:
    return await service.lift(session, sanction_id, data, by=principal, now=now)
