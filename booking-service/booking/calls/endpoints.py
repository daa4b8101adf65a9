import uuid
from typing import Annotated

from fastapi import Depends, Query

from booking.calls import schemas as s
from booking.calls import service
from booking.calls.reasons import REASONS
from booking.clock import Now
from service_kit.auth import Principal, Role, require_roles
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router
from service_kit.timeutil import Instant

router = service_router(tags=["hotline"])

Operator = Annotated[Principal, Depends(require_roles(Role.operator))]
REASON_LIST = "; ".join(f"`{code}` {zh}" for code, zh in REASONS.items())


@router.post(
    "/api/v1/residents/{resident_id}/calls",
    status_code=201,
    response_model=s.Call,
    summary="Log a call about a resident: its reason, note, who called and what came of it (operator)",
    description=(
        f"Reasons: {REASON_LIST}. A caller who is not the resident is named (`caller.name`; 422 "
        "`caller_name_required`), a helper with their relation (`caller.relation`; 422 `relation_required`). "
        "`callback` schedules a callback (its `due_at` after now, else 422 `callback_in_past`)."
    ),
    responses=error_responses(401, 403, 404, 422),
)
async def log_call(
    resident_id: uuid.UUID, data: s.CallCreate, session: SessionDep, principal: Operator, now: Now
) -> s.Call:
    return await service.log_call(session, resident_id, data, by=principal, now=now)


@router.get(
    "/api/v1/residents/{resident_id}/calls",
    response_model=Page[s.Call],
    summary="The calls about a resident, the latest first: the card's timeline (operator)",
    responses=error_responses(401, 403, 404, 422),
)
async def list_resident_calls(
    resident_id: uuid.UUID, session: ReadSessionDep, principal: Operator, page: PaginationDep
) -> Page[s.Call]:
    items, total = await service.calls_of(session, resident_id, by=principal, limit=page.limit, offset=page.offset)
    return page.of(items, total)


@router.get(
    "/api/v1/hotline/callbacks",
    response_model=Page[s.Callback],
    summary="Callbacks still owed whose time has come by `due_before`, the longest due first (operator)",
    responses=error_responses(401, 403, 422),
)
async def list_due_callbacks(
    session: ReadSessionDep,
    principal: Operator,
    page: PaginationDep,
    due_before: Annotated[Instant, Query(description="Usually the end of the shift.")],
) -> Page[s.Callback]:
    items, total = await service.due_callbacks(
        session, due_before=due_before, by=principal, limit=page.limit, offset=page.offset
    )
    return page.of(items, total)


@router.post(
    "/api/v1/hotline/callbacks/{callback_id}/attempts",
    response_model=s.Callback,
    summary="Work a callback: done, or no answer and when to try again (operator)",
    description=(
        "`attempts` is the callback's as the operator saw it: when another operator recorded an outcome first, or "
        "it is done, 409 `callback_changed`. `no_answer` needs `next_due_at` after now (422 on `next_due_at`)."
    ),
    responses=error_responses(401, 403, 404, 409, 422),
)
async def work_callback(
    callback_id: uuid.UUID, data: s.CallbackAttempt, session: SessionDep, principal: Operator, now: Now
) -> s.Callback:
    return await service.record_attempt(session, callback_id, data, by=principal, now=now)


@router.get(
    "/api/v1/hotline/handover",
    response_model=s.Handover,
    summary="A shift's handover: what is open at its end and who took it; per operator, what they closed (operator)",
    responses=error_responses(401, 403, 422),
)
async def shift_handover(
    session: ReadSessionDep,
    principal: Operator,
    since: Annotated[Instant, Query(description="The shift's start.")],
    until: Annotated[Instant, Query(description="The shift's end (after `since`).")],
    now: Now,
) -> s.Handover:
    return await service.handover(session, since=since, until=until, by=principal, due_limit=200, now=now)
