from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, status

from procurement.amendments import service as amendments_service
from procurement.amendments.schemas import TerminationCreate
from procurement.auth import ContractLister, ContractParty, ContractViewer, Official
from procurement.clock import Now
from procurement.contracts import schemas, service
from procurement.contracts.models import ContractStatus
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/contracts", tags=["contracts"])


@router.post(
    "",
    response_model=schemas.Contract,
    status_code=status.HTTP_201_CREATED,
    summary="Propose a direct award (直接委托): a draft contract naming its fund and legal rationale, funding "
    "some of the provider's own offerings; another official approves it before it is signed",
    description=(
        "A contract comes through a procurement method: from a call for proposals' approved, publicly announced "
        "application (`POST /api/v1/calls/{call_id}/applications/{application_id}/contract`), or as a direct award "
        "proposed here. The provider is verified and unsanctioned, each funded offering is its own published "
        "offering funded by no other active contract in the term (409 `offering_already_funded`), and the fund has "
        "the amount left (409 `budget_exceeded`)."
    ),
    responses=error_responses(401, 403, 404, 409, 422),
)
async def propose_direct_award(
    data: schemas.DirectAwardCreate, session: SessionDep, principal: Official, now: Now
) -> schemas.Contract:
    return await service.propose_direct_award(session, data, by=principal, now=now)


@router.post(
    "/{contract_id}/direct-award/approve",
    response_model=schemas.Contract,
    summary="Approve a proposed direct award (four eyes: an official other than its proposer); its amount is "
    "committed from the fund, within the budget",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def approve_direct_award(
    contract_id: uuid.UUID, data: schemas.AwardDecision, session: SessionDep, principal: Official, now: Now
) -> schemas.Contract:
    return await service.approve_direct_award(session, contract_id, data, by=principal, now=now)


@router.post(
    "/{contract_id}/direct-award/reject",
    response_model=schemas.Contract,
    summary="Reject a proposed direct award, with the reason; it is never signed",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def reject_direct_award(
    contract_id: uuid.UUID, data: schemas.AwardRejection, session: SessionDep, principal: Official, now: Now
) -> schemas.Contract:
    return await service.reject_direct_award(session, contract_id, data, by=principal, now=now)


@router.get(
    "",
    response_model=Page[schemas.Contract],
    summary="Contracts, newest first",
    description=(
        "Officials and auditors: every contract (a street-scoped official's street's). A provider's system with an "
        "API key of scope `contracts:read`: its own provider's contracts only (another `provider_id` lists none)."
    ),
    responses=error_responses(401, 403, 422),
)
async def list_contracts(
    session: SessionDep,
    principal: ContractLister,
    page: PaginationDep,
    status: Annotated[ContractStatus | None, Query(description="Only contracts in this status.")] = None,
    provider_id: Annotated[uuid.UUID | None, Query(description="Only this provider's contracts.")] = None,
) -> Page[schemas.Contract]:
    items, total = await service.list_page(
        session, status=status, provider_id=provider_id, limit=page.limit, offset=page.offset, by=principal
    )
    return page.of(items, total)


@router.get(
    "/{contract_id}",
    response_model=schemas.Contract,
    summary="A contract, with what has been delivered against each funded offering",
    responses=error_responses(401, 403, 404, 422),
)
async def get_contract(contract_id: uuid.UUID, session: SessionDep, principal: ContractViewer) -> schemas.Contract:
    return await service.get(session, contract_id, by=principal)


@router.get(
    "/{contract_id}/history",
    response_model=schemas.History,
    summary="Every change to a contract: who, when, what, before and after",
    responses=error_responses(401, 403, 404, 422),
)
async def get_contract_history(
    contract_id: uuid.UUID, session: SessionDep, principal: ContractViewer
) -> schemas.History:
    return await service.history(session, contract_id, by=principal)


@router.post(
    "/{contract_id}/sign",
    response_model=schemas.Contract,
    summary="Sign a draft contract for one party (an official for the district, the provider's admin for the "
    "provider); with both signatures it becomes active and booking-service starts funding its offerings",
    description=(
        "Only an approved award is signed (409 `award_not_approved`), naming its fund (409 `contract_without_fund`); "
        "a contract from a call once its public notice has ended with every objection answered; for a provider "
        "still verified and unsanctioned (422); and never while another active contract funds one of its offerings "
        "in the term (409 `offering_already_funded`)."
    ),
    responses=error_responses(401, 403, 404, 409, 422),
)
async def sign_contract(
    contract_id: uuid.UUID, session: SessionDep, principal: ContractParty, now: Now
) -> schemas.Contract:
    return await service.sign(session, contract_id, by=principal, now=now)


@router.get(
    "/{contract_id}/versions",
    response_model=Page[schemas.ContractVersion],
    summary="The contract's terms version by version: as signed, then after each approved amendment",
    responses=error_responses(401, 403, 404, 422),
)
async def list_contract_versions(
    contract_id: uuid.UUID, session: SessionDep, principal: ContractViewer, page: PaginationDep
) -> Page[schemas.ContractVersion]:
    items, total = await service.versions_page(session, contract_id, by=principal, limit=page.limit, offset=page.offset)
    return page.of(items, total)


@router.post(
    "/{contract_id}/terminate",
    response_model=schemas.Contract,
    summary="The purchaser terminates an active contract for cause, giving the reason "
    "(a termination by agreement goes through /terminations)",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def terminate_contract(
    contract_id: uuid.UUID, data: schemas.ContractTerminate, session: SessionDep, principal: Official, now: Now
) -> schemas.Contract:
    await amendments_service.propose_termination(
        session, contract_id, TerminationCreate(reason=data.reason, for_cause=True), by=principal, now=now
    )
    return await service.view(session, await service.reload(session, contract_id))
