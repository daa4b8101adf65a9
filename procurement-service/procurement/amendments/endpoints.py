from __future__ import annotations

import uuid

from fastapi import status

from procurement.amendments import schemas, service
from procurement.amendments.models import ChangeKind
from procurement.auth import ContractReader, ContractViewer
from procurement.clock import Now
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/contracts", tags=["amendments"])

DECIDE = error_responses(401, 403, 404, 409, 422)


@router.post(
    "/{contract_id}/amendments",
    response_model=schemas.Amendment,
    status_code=status.HTTP_201_CREATED,
    summary="Propose an amendment (补充协议) of a signed contract; it takes effect when the other party approves",
    responses=DECIDE,
)
async def propose_amendment(
    contract_id: uuid.UUID, data: schemas.AmendmentCreate, session: SessionDep, principal: ContractReader, now: Now
) -> schemas.Amendment:
    return await service.propose_amendment(session, contract_id, data, by=principal, now=now)


@router.post(
    "/{contract_id}/terminations",
    response_model=schemas.Amendment,
    status_code=status.HTTP_201_CREATED,
    summary="Propose to end a contract by agreement, or (the purchaser) end it for cause at once",
    responses=DECIDE,
)
async def propose_termination(
    contract_id: uuid.UUID, data: schemas.TerminationCreate, session: SessionDep, principal: ContractReader, now: Now
) -> schemas.Amendment:
    return await service.propose_termination(session, contract_id, data, by=principal, now=now)


def _reads_and_decisions(kind: ChangeKind, collection: str, listed: str) -> None:
    """The list, a read, and approve / reject / withdraw, for amendments and terminations alike."""

    @router.get(
        f"/{{contract_id}}/{collection}",
        response_model=Page[schemas.Amendment],
        summary=f"A contract's {listed}, oldest first",
        responses=error_responses(401, 403, 404, 422),
        name=f"list_{collection}",
    )
    async def list_items(
        contract_id: uuid.UUID, session: SessionDep, principal: ContractViewer, page: PaginationDep
    ) -> Page[schemas.Amendment]:
        items, total = await service.list_page(
            session, contract_id, kind, by=principal, limit=page.limit, offset=page.offset
        )
        return page.of(items, total)

    @router.get(
        f"/{{contract_id}}/{collection}/{{item_id}}",
        response_model=schemas.Amendment,
        summary=f"One {kind} of a contract",
        responses=error_responses(401, 403, 404, 422),
        name=f"get_{kind}",
    )
    async def get_item(
        contract_id: uuid.UUID, item_id: uuid.UUID, session: SessionDep, principal: ContractViewer
    ) -> schemas.Amendment:
        return await service.get(session, contract_id, item_id, kind, by=principal)

    @router.post(
        f"/{{contract_id}}/{collection}/{{item_id}}/approve",
        response_model=schemas.Amendment,
        summary=f"The other party approves a proposed {kind}: it takes effect",
        responses=DECIDE,
        name=f"approve_{kind}",
    )
    async def approve(
        contract_id: uuid.UUID,
        item_id: uuid.UUID,
        data: schemas.Decision,
        session: SessionDep,
        principal: ContractReader,
        now: Now,
    ) -> schemas.Amendment:
        return await service.approve(session, contract_id, item_id, kind, data, by=principal, now=now)

    @router.post(
        f"/{{contract_id}}/{collection}/{{item_id}}/reject",
        response_model=schemas.Amendment,
        summary=f"The other party rejects a proposed {kind}, giving the reason",
        responses=DECIDE,
        name=f"reject_{kind}",
    )
    async def reject(
        contract_id: uuid.UUID,
        item_id: uuid.UUID,
        data: schemas.Rejection,
        session: SessionDep,
        principal: ContractReader,
        now: Now,
    ) -> schemas.Amendment:
        return await service.reject(session, contract_id, item_id, kind, data, by=principal, now=now)

    @router.post(
        f"/{{contract_id}}/{collection}/{{item_id}}/withdraw",
        response_model=schemas.Amendment,
        summary=f"The proposing party withdraws its proposed {kind}",
        responses=DECIDE,
        name=f"withdraw_{kind}",
    )
    async def withdraw(
        contract_id: uuid.UUID,
        item_id: uuid.UUID,
        data: schemas.Decision,
        session: SessionDep,
        principal: ContractReader,
        now: Now,
    ) -> schemas.Amendment:
        return await service.withdraw(session, contract_id, item_id, kind, data, by=principal, now=now)


_reads_and_decisions(ChangeKind.amendment, "amendments", "amendments")
_reads_and_decisions(ChangeKind.termination, "terminations", "proposed and decided terminations")
