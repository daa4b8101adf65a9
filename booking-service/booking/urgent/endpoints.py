import uuid
from typing import Annotated, Literal

from pydantic import StringConstraints

from booking.calls.endpoints import Operator
from booking.clock import Now
from booking.urgent import schemas as s
from booking.urgent import service
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(tags=["hotline"])

CommunityCode = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_.-]{1,64}$")]


@router.post(
    "/api/v1/residents/{resident_id}/urgent-calls",
    status_code=201,
    response_model=s.UrgentCall,
    summary="Open an urgent safety call about a resident and escalate it at once (operator)",
    description=(
        "A fall, or someone living alone who does not answer: an SMS goes at once (at any hour) to the resident's "
        "emergency contact and to the duty phone of their community (`escalations`: `suppressed` with `no_phone` "
        "where there is no number). One open urgent call per resident: 409 `urgent_call_open` with "
        "`urgent_call_id`. A retry with the same Idempotency-Key opens and sends nothing more."
    ),
    responses=error_responses(401, 403, 404, 409, 422),
)
async def open_urgent_call(
    resident_id: uuid.UUID, data: s.UrgentCallCreate, session: SessionDep, principal: Operator, now: Now
) -> s.UrgentCall:
    return await service.open_call(session, resident_id, data, by=principal, now=now)


@router.get(
    "/api/v1/residents/{resident_id}/urgent-calls",
    response_model=Page[s.UrgentCall],
    summary="A resident's urgent calls, the latest first, with their state and escalation (operator)",
    responses=error_responses(401, 403, 404, 422),
)
async def list_resident_urgent_calls(
    resident_id: uuid.UUID, session: ReadSessionDep, principal: Operator, page: PaginationDep
) -> Page[s.UrgentCall]:
    items, total = await service.of_resident(session, resident_id, by=principal, limit=page.limit, offset=page.offset)
    return page.of(items, total)


@router.get(
    "/api/v1/hotline/urgent-calls",
    response_model=Page[s.UrgentCall],
    summary="Urgent calls not yet resolved, the oldest first (operator)",
    responses=error_responses(401, 403, 422),
)
async def list_open_urgent_calls(
    session: ReadSessionDep, principal: Operator, page: PaginationDep
) -> Page[s.UrgentCall]:
    items, total = await service.still_open(session, by=principal, limit=page.limit, offset=page.offset)
    return page.of(items, total)


@router.post(
    "/api/v1/hotline/urgent-calls/{urgent_call_id}/{step}",
    response_model=s.UrgentCall,
    summary="Move an urgent call on: `contacted` (someone reached the resident), then `resolved` (operator)",
    description="Out of order (resolved before contacted, twice) is 409 `invalid_transition` with the call's `state`.",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def step_urgent_call(
    urgent_call_id: uuid.UUID,
    step: Literal["contacted", "resolved"],
    data: s.Step,
    session: SessionDep,
    principal: Operator,
    now: Now,
) -> s.UrgentCall:
    return await service.step(session, urgent_call_id, step, data, by=principal, now=now)


@router.get(
    "/api/v1/hotline/community-contacts",
    response_model=list[s.DutyContact],
    summary="Every known community and its duty phone for urgent calls, where the call center has one (operator)",
    responses=error_responses(401, 403),
)
async def list_duty_contacts(session: ReadSessionDep, principal: Operator) -> list[s.DutyContact]:
    return await service.duty_contacts(session)


@router.put(
    "/api/v1/hotline/community-contacts/{community_code}",
    response_model=s.DutyContact,
    summary="Set a community's duty phone, the one an urgent call about its residents alerts (operator)",
    responses=error_responses(401, 403, 404, 422),
)
async def set_duty_contact(
    community_code: CommunityCode, data: s.DutyContactIn, session: SessionDep, principal: Operator, now: Now
) -> s.DutyContact:
    return await service.set_duty_contact(session, community_code, data, by=principal, now=now)
