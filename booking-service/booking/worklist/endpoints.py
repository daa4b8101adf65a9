import uuid
from typing import Annotated

from fastapi import Depends, Query

from booking.clock import Now
from booking.worklist import schemas as s
from booking.worklist import service
from service_kit.auth import Principal, Role, require_roles
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router
from service_kit.timeutil import Instant

router = service_router(tags=["hotline"])

Operator = Annotated[Principal, Depends(require_roles(Role.operator))]


@router.get(
    "/api/v1/hotline/worklist",
    response_model=Page[s.WorklistItem],
    summary="Every call the shift owes, of every kind, the longest due first, with who took each (operator)",
    description=(
        "Kinds: `callback` (due by `due_before`), `unconfirmed_booking` (the provider did not confirm by the "
        "deadline: still requested, or expired), `waitlist_offer` (a place held for a resident who has not "
        "answered), `recheck` (an eligibility re-check open), `no_show` (the provider recorded the resident did "
        "not come). Complaints past their deadlines are feedback-service's (`GET /api/v1/complaints?overdue=true`); "
        "the console merges them. Items closed (`done`) leave the list."
    ),
    responses=error_responses(401, 403, 422),
    operation_id="listWorklist",
)
async def list_worklist(
    session: ReadSessionDep,
    principal: Operator,
    page: PaginationDep,
    now: Now,
    due_before: Annotated[Instant, Query(description="Usually the end of the shift.")],
    kind: Annotated[list[s.ListedKind] | None, Query(description="Only these kinds (repeat it).")] = None,
) -> Page[s.WorklistItem]:
    items, total = await service.worklist(
        session, due_before=due_before, kinds=kind, by=principal, now=now, limit=page.limit, offset=page.offset
    )
    return page.of(items, total)


@router.post(
    "/api/v1/hotline/worklist/{kind}/{item_id}/take",
    response_model=s.FollowUp,
    summary="Take an item of the work list: it is yours to call (operator)",
    description=(
        "409 `worklist_item_taken` (with `taken_by_name`) when another operator took it first, "
        "`worklist_item_done` when it is closed or needs no call any more; 404 `worklist_item_not_found`."
    ),
    responses=error_responses(401, 403, 404, 409, 422),
    operation_id="takeWorklistItem",
)
async def take_item(
    kind: s.Kind,
    item_id: uuid.UUID,
    session: SessionDep,
    principal: Operator,
    now: Now,
    data: s.Take | None = None,
) -> s.FollowUp:
    return await service.take(session, kind, item_id, data or s.Take(), by=principal, now=now)


@router.post(
    "/api/v1/hotline/worklist/{kind}/{item_id}/done",
    response_model=s.FollowUp,
    summary="Close an item of the work list with a note; it leaves the list (operator)",
    description=(
        "Takes the item first if nobody has. On a callback it is the callback's outcome `done`. 409 "
        "`worklist_item_taken` when another operator holds it, `worklist_item_done` when it is closed already."
    ),
    responses=error_responses(401, 403, 404, 409, 422),
    operation_id="closeWorklistItem",
)
async def close_item(
    kind: s.Kind,
    item_id: uuid.UUID,
    session: SessionDep,
    principal: Operator,
    now: Now,
    data: s.Done | None = None,
) -> s.FollowUp:
    return await service.done(session, kind, item_id, data or s.Done(), by=principal, now=now)


@router.get(
    "/api/v1/hotline/worklist/followups",
    response_model=list[s.FollowUp],
    summary="Who took and who closed the named items of a kind: the console's view of complaints (operator)",
    responses=error_responses(401, 403, 422),
    operation_id="listWorklistFollowups",
)
async def list_followups(
    session: ReadSessionDep,
    principal: Operator,
    kind: Annotated[s.Kind, Query()],
    item_id: Annotated[list[uuid.UUID], Query(max_length=200, description="The items (repeat it, up to 200).")],
) -> list[s.FollowUp]:
    return await service.followups(session, kind, item_id)
