from __future__ import annotations

import uuid

from procurement.auth import ContractViewer
from procurement.contracts import service as contracts_service
from procurement.kept import schemas, service
from service_kit.db import ReadSessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/contracts", tags=["deliverables"])


@router.get(
    "/{contract_id}/kept-bookings",
    response_model=Page[schemas.KeptBooking],
    summary="Residents' bookings that keep the contract's subsidy after it stopped funding them, oldest first",
    description=(
        "A terminated contract (or one whose amendment stopped funding an offering) still owes these bookings: "
        "the residents keep the price they were told. Open ones keep their value committed; delivered ones are "
        "paid by a settlement (POST /contracts/{id}/disbursements once terminated); lapsed ones owe nothing."
    ),
    responses=error_responses(401, 403, 404, 422),
)
async def list_kept_bookings(
    contract_id: uuid.UUID, session: ReadSessionDep, principal: ContractViewer, page: PaginationDep
) -> Page[schemas.KeptBooking]:
    contract = await contracts_service.get_readable(session, contract_id, by=principal)
    items, total = await service.list_page(session, contract, limit=page.limit, offset=page.offset)
    return page.of(items, total)
