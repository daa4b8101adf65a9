from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from procurement.acceptance import schemas, service
from procurement.auth import Official
from procurement.clock import Now
from procurement.config import SettingsDep
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep

router = APIRouter(prefix="/api/v1/contracts", tags=["acceptance"])


@router.post(
    "/{contract_id}/acceptance",
    response_model=schemas.Acceptance,
    status_code=status.HTTP_201_CREATED,
    summary="Record the acceptance (验收): passed, conditional or failed, with the recipients' opinions",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def record_acceptance(
    contract_id: uuid.UUID,
    data: schemas.AcceptanceCreate,
    session: SessionDep,
    principal: Official,
    now: Now,
    settings: SettingsDep,
) -> schemas.Acceptance:
    return await service.accept(session, contract_id, data, by=principal, now=now, settings=settings)


@router.get(
    "/{contract_id}/acceptance",
    response_model=Page[schemas.Acceptance],
    summary="A contract's acceptance results, public (no login; residents' names masked)",
    responses=error_responses(404, 422),
)
async def public_acceptance(
    contract_id: uuid.UUID, session: SessionDep, page: PaginationDep
) -> Page[schemas.Acceptance]:
    items, total = await service.public_page(session, contract_id, limit=page.limit, offset=page.offset)
    return page.of(items, total)
