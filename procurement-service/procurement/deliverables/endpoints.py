from __future__ import annotations

import uuid

from fastapi import APIRouter

from procurement.auth import ContractReader
from procurement.deliverables import schemas, service
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep

router = APIRouter(prefix="/api/v1/contracts", tags=["deliverables"])


@router.get(
    "/{contract_id}/deliverables",
    response_model=Page[schemas.Deliverable],
    summary="The services delivered under a contract, one per completed booking, newest first",
    responses=error_responses(401, 403, 404, 422),
)
async def list_deliverables(
    contract_id: uuid.UUID,
    session: SessionDep,
    principal: ContractReader,
    page: PaginationDep,
) -> Page[schemas.Deliverable]:
    items, total = await service.list_page(session, contract_id, by=principal, limit=page.limit, offset=page.offset)
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)
