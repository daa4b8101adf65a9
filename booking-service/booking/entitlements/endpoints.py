import uuid
from typing import Annotated, Literal

from fastapi import Query

from booking.clock import Now
from booking.deps import Caller, SettingsDep
from booking.entitlements import schemas as s
from booking.entitlements import service
from booking.residents.schemas import EligibilityTag
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router
from service_kit.timeutil import Day

router = service_router(tags=["entitlements"])


@router.put(
    "/api/v1/entitlements/programs/{contract_id}/{offering_id}",
    response_model=s.ProgramEntitlement,
    summary="State what each eligible person gets of a funded programme per period (officials, admins)",
    description=(
        "e.g. 22 subsidised meals a month, or 4 home-care hours a week (unit `hour`: each started hour of a slot). "
        "A booking beyond it is priced at the offering's own price and says why."
    ),
    responses=error_responses(401, 403, 404, 422),
    operation_id="setProgramEntitlement",
)
async def set_program_entitlement(
    contract_id: uuid.UUID, offering_id: uuid.UUID, data: s.EntitlementRule, session: SessionDep, principal: Caller
) -> s.ProgramEntitlement:
    return await service.set_program_entitlement(session, contract_id, offering_id, data, by=principal)


@router.put(
    "/api/v1/residents/{resident_id}/eligibility/{tag}",
    response_model=s.ResidentEntitlements,
    summary="Record the evidence of a resident's eligibility tag: its type, who verified it (the caller), its expiry",
    responses=error_responses(401, 403, 404, 422),
    operation_id="recordEligibilityEvidence",
)
async def record_evidence(
    resident_id: uuid.UUID, tag: EligibilityTag, data: s.EvidenceIn, session: SessionDep, principal: Caller
) -> s.ResidentEntitlements:
    return await service.record_evidence(session, resident_id, tag, data, by=principal)


@router.get(
    "/api/v1/residents/{resident_id}/entitlements",
    response_model=s.ResidentEntitlements,
    summary="A resident's eligibility (with its evidence) and what she has left this period of each programme",
    responses=error_responses(401, 403, 404, 422),
    operation_id="getResidentEntitlements",
)
async def resident_entitlements(
    resident_id: uuid.UUID,
    session: SessionDep,
    principal: Caller,
    settings: SettingsDep,
    day: Annotated[Day | None, Query(alias="date", description="The local day (default today).")] = None,
) -> s.ResidentEntitlements:
    return await service.for_resident(
        session, resident_id, day, by=principal, recheck_days=settings.eligibility_recheck_lead_days
    )


@router.get(
    "/api/v1/entitlements/rechecks",
    response_model=Page[s.Recheck],
    summary="Eligibility evidence that expires (or has expired): operators' re-check tasks, soonest first",
    responses=error_responses(401, 403, 422),
    operation_id="listEligibilityRechecks",
)
async def list_rechecks(
    session: SessionDep,
    principal: Caller,
    page: PaginationDep,
    state: Annotated[Literal["open", "all"], Query(description="open (default) or all.")] = "open",
) -> Page[s.Recheck]:
    items, total = await service.rechecks(
        session, by=principal, open_only=state == "open", limit=page.limit, offset=page.offset
    )
    return page.of([s.Recheck.model_validate(i) for i in items], total)


@router.post(
    "/api/v1/entitlements/rechecks/{recheck_id}/close",
    response_model=s.Recheck,
    summary="Close a re-check: renewed with the new evidence, or the tag removed",
    responses=error_responses(401, 403, 404, 409, 422),
    operation_id="closeEligibilityRecheck",
)
async def close_recheck(
    recheck_id: uuid.UUID, data: s.RecheckClose, session: SessionDep, principal: Caller, now: Now
) -> s.Recheck:
    return s.Recheck.model_validate(await service.close_recheck(session, recheck_id, data, by=principal, now=now))
