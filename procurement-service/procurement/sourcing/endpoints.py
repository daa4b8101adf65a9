"""Sourcing's endpoint: an official drafts the contract of a call's approved, announced application."""

from __future__ import annotations

import uuid

from fastapi import status

from procurement.auth import Official
from procurement.clock import Now
from procurement.contracts.schemas import Contract
from procurement.sourcing import schemas, service
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/calls", tags=["calls"])


@router.post(
    "/{call_id}/applications/{application_id}/contract",
    response_model=Contract,
    status_code=status.HTTP_201_CREATED,
    summary="Draft the contract of an approved, publicly announced application",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def draft_contract(
    call_id: uuid.UUID,
    application_id: uuid.UUID,
    data: schemas.ContractFromApplication,
    session: SessionDep,
    principal: Official,
    now: Now,
) -> Contract:
    return await service.draft_contract(session, call_id, application_id, data, by=principal, now=now)
