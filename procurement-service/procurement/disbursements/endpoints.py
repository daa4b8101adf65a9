from __future__ import annotations

import uuid

from fastapi import status

from procurement.auth import ContractViewer, Official
from procurement.clock import Now
from procurement.config import SettingsDep
from procurement.disbursements import schemas, service
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/contracts", tags=["disbursements"])


@router.post(
    "/{contract_id}/disbursements",
    response_model=schemas.Disbursement,
    status_code=status.HTTP_201_CREATED,
    summary="Pay the next installment (资金拨付) of the contract's plan, once its condition is met (the last: "
    "after a passed acceptance at the attainment threshold)",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def disburse(
    contract_id: uuid.UUID,
    data: schemas.DisbursementCreate,
    session: SessionDep,
    principal: Official,
    now: Now,
    settings: SettingsDep,
) -> schemas.Disbursement:
    return await service.disburse(session, contract_id, data, by=principal, now=now, settings=settings)


@router.get(
    "/{contract_id}/disbursements",
    response_model=Page[schemas.Disbursement],
    summary="A contract's disbursements, by installment",
    responses=error_responses(401, 403, 404, 422),
)
async def list_disbursements(
    contract_id: uuid.UUID, session: SessionDep, principal: ContractViewer, page: PaginationDep
) -> Page[schemas.Disbursement]:
    items, total = await service.list_page(session, contract_id, by=principal, limit=page.limit, offset=page.offset)
    return page.of(items, total)
