"""The rules of needs and suggestions: who records them, what is kept, how they are grouped for procurement.

A need names a category of the registry's taxonomy and, optionally, a community of its gazetteer, both as
feedback knows them (``feedback.reference``; 422 ``unknown_category`` / ``unknown_community`` otherwise).
Needs are grouped by (category, community): ``group_key`` is ``"<category_code>@<community_code or ->"``.
Each submission adds one to its group and emits ``need.submitted`` with the group's new count, so procurement's
needs pool sees how many residents of a community miss the same kind of service.

Each need has a story its author reads: ``received`` at submission, then what procurement's ``need.progressed``
says of its group (pooled, in a call, contracted, bookable near home, or declined with a reason). Every step of a
need with a resident emits ``need.status_changed`` for the notifier. A need received into a group procurement
has already moved joins the group's story where it stands (told only ``received``).
"""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.communities import street_of
from feedback.needs import repository
from feedback.needs.models import Need as NeedModel
from feedback.needs.models import NeedGroup as GroupModel
from feedback.needs.models import NeedSource
from feedback.needs.models import NeedStep as StepModel
from feedback.needs.schemas import Need, NeedCreate, NeedGroup, NeedStep, NeedSubmittedView
from feedback.reference import service as reference
from feedback.residents import service as residents
from service_kit.auth import Principal, Role
from service_kit.errors import Forbidden, NotFound, ValidationFailed
from service_kit.events.contracts import NeedProgressed, NeedStatusChanged, NeedSubmitted
from service_kit.events.outbox import emit
from service_kit.logging import mask_personal_data
from service_kit.pagination import Page, Pagination
from service_kit.timeutil import utcnow

SUMMARY_LENGTH = 200

# The story's order: at the same moment a later stage follows an earlier one (a contract signed with funded
# offerings is contracted, then in_service).
STAGE_ORDER: dict[str, int] = {
    "received": 0,
    "pooled": 1,
    "in_call": 2,
    "contracted": 3,
    "in_service": 4,
    "declined": 5,
}


def label_of(
    status: str, *, call_title: str | None = None, contract_title: str | None = None, reason: str | None = None
) -> str:
    """The words the app shows for a step (Chinese: the residents' language)."""
    match status:
        case "received":
            return "已收到"
        case "pooled":
            return "已纳入需求池"
        case "in_call":
            return f"已进入项目征集：{call_title}" if call_title else "已进入项目征集"
        case "contracted":
            return f"已签订服务合同：{contract_title}" if contract_title else "已签订服务合同"
        case "in_service":
            return "附近已可预约服务"
        case _:
            return f"暂不采纳：{reason}" if reason else "暂不采纳"


def _step_view(step: StepModel) -> NeedStep:
    return NeedStep(
        status=step.status,
        label=label_of(step.status, call_title=step.call_title, contract_title=step.contract_title, reason=step.reason),
        at=step.occurred_at,
        call_id=step.call_id,
        call_title=step.call_title,
        contract_id=step.contract_id,
        contract_title=step.contract_title,
        offering_ids=[uuid.UUID(str(i)) for i in step.offering_ids],
        reason=step.reason,
    )


def _view(need: NeedModel, steps: Sequence[StepModel]) -> Need:
    story = [NeedStep(status="received", label=label_of("received"), at=need.created_at)]
    story += [_step_view(s) for s in sorted(steps, key=lambda s: (s.occurred_at, STAGE_ORDER.get(s.status, 9)))]
    current = next((s for s in reversed(story) if s.status == need.status), story[0])
    return Need(
        id=need.id,
        group_key=need.group_key,
        kind=need.kind,
        category_code=need.category_code,
        community_code=need.community_code,
        street_code=need.street_code,
        target_group=need.target_group,
        text=need.text,
        source=need.source,
        resident_id=need.resident_id,
        helper_resident_id=need.helper_resident_id,
        created_at=need.created_at,
        status=current.status,
        status_label=current.label,
        steps=story,
    )


async def views(session: AsyncSession, needs: Sequence[NeedModel]) -> list[Need]:
    steps = await repository.steps_of(session, [n.id for n in needs])
    return [_view(n, steps.get(n.id, [])) for n in needs]


# What a step says of the call, contract or refusal behind it, as need.progressed carried it and as
# need.status_changed tells it on.
STEP_FACTS = {"call_id", "call_title", "contract_id", "contract_title", "reason"}


def _not_after(status: str) -> list[str]:
    """The statuses ``status`` may replace when both happened at the same moment: those not further along."""
    return [s for s, order in STAGE_ORDER.items() if order <= STAGE_ORDER[status]]


def _status_changed(need: NeedModel, step: NeedStep) -> NeedStatusChanged | None:
    if need.resident_id is None:  # no resident to tell
        return None
    return NeedStatusChanged(
        need_id=need.id,
        resident_id=need.resident_id,
        status=step.status,
        **step.model_dump(include=STEP_FACTS),
        offering_ids=tuple(step.offering_ids),
        occurred_at=step.at,
    )


async def record_progress(session: AsyncSession, event: NeedProgressed, *, event_id: str) -> int:
    """Procurement moved the pool item of ``event.group_key``: each need of the group gets the step once (its
    current status when it is the latest), and each one with a resident a ``need.status_changed``. Returns how
    many needs took the step."""
    facts = event.model_dump(include=STEP_FACTS)
    step_values = {
        "event_id": event_id,
        "status": event.status,
        "occurred_at": event.occurred_at,
        **facts,
        "offering_ids": [str(i) for i in event.offering_ids],
    }
    step = NeedStep(
        status=event.status,
        label=label_of(
            event.status, call_title=event.call_title, contract_title=event.contract_title, reason=event.reason
        ),
        at=event.occurred_at,
        **facts,
        offering_ids=list(event.offering_ids),
    )
    taken = 0
    for need in await repository.needs_of_group(session, event.group_key):
        if not await repository.insert_step(session, {"id": uuid.uuid4(), "need_id": need.id, **step_values}):
            continue
        taken += 1
        await repository.move_status(
            session, need.id, status=event.status, at=event.occurred_at, not_after=_not_after(event.status)
        )
        if (told := _status_changed(need, step)) is not None:
            await emit(session, told)
    return taken


async def _join_group_story(session: AsyncSession, need: NeedModel) -> list[StepModel]:
    """A need received into a group procurement has already moved takes the group's steps so far."""
    latest = await repository.latest_progressed_need(session, need.group_key, other_than=need.id)
    if latest is None or latest.status_at is None:
        return []
    steps = (await repository.steps_of(session, [latest.id])).get(latest.id, [])
    for step in steps:
        await repository.insert_step(
            session,
            {
                "id": uuid.uuid4(),
                "need_id": need.id,
                "event_id": step.event_id,
                "status": step.status,
                "occurred_at": step.occurred_at,
                "call_id": step.call_id,
                "call_title": step.call_title,
                "contract_id": step.contract_id,
                "contract_title": step.contract_title,
                "offering_ids": list(step.offering_ids),
                "reason": step.reason,
            },
        )
    await repository.move_status(
        session, need.id, status=latest.status, at=latest.status_at, not_after=_not_after(latest.status)
    )
    need.status, need.status_at = latest.status, latest.status_at
    return steps


def group_key_of(category_code: str, community_code: str | None) -> str:
    return f"{category_code}@{community_code or '-'}"


async def submit_need(
    session: AsyncSession,
    data: NeedCreate,
    *,
    by: Principal,
    via_open311: bool = False,
    now: datetime | None = None,
) -> NeedSubmittedView:
    now = now or utcnow()
    # The resident's helper records a need for them with their own token, naming them (active grant, else 404).
    helper_id = await residents.helping(session, by, data.resident_id)
    if helper_id is not None:
        source, resident_id = NeedSource.resident, data.resident_id
    else:
        source, resident_id = _source_of(by, data.resident_id)
    # Both checked before anything is counted or written: a refused need is in no group and no event.
    await reference.require_category(session, data.category_code)
    if data.community_code is not None:
        await reference.require_community(session, data.community_code)
    key = group_key_of(data.category_code, data.community_code)
    count = await repository.count_into_group(
        session, group_key=key, category_code=data.category_code, community_code=data.community_code, now=now
    )
    need = NeedModel(
        id=uuid.uuid4(),
        group_key=key,
        kind=data.kind,
        category_code=data.category_code,
        community_code=data.community_code,
        street_code=street_of(data.community_code),
        target_group=data.target_group,
        text=mask_personal_data(data.text),
        source=source,
        resident_id=resident_id,
        submitted_by=by.subject,
        helper_resident_id=helper_id,
        via_open311=via_open311,
        created_at=now,
        status="received",
        status_at=None,
    )
    await repository.insert_need(session, need)
    joined = await _join_group_story(session, need)
    view = _view(need, joined)
    if (told := _status_changed(need, view.steps[0])) is not None:
        await emit(session, told)
    await emit(
        session,
        NeedSubmitted(
            need_id=need.id,
            group_key=key,
            category_code=need.category_code,
            community_code=need.community_code,
            target_group=need.target_group,
            summary=need.text[:SUMMARY_LENGTH],
            count=count,
            # Procurement's pool knows residents, operators and officials: a need an Open311 application relays
            # (a hotline caller's, a community app user's) is a resident's voice there; feedback keeps the
            # application as its source and submitted_by.
            source=NeedSource.resident.value if source == NeedSource.application else source.value,
            submitted_at=now,
        ),
    )
    return NeedSubmittedView(**view.model_dump(), group_count=count)


def _source_of(by: Principal, resident_id: uuid.UUID | None) -> tuple[NeedSource, uuid.UUID | None]:
    if by.has_any(Role.official, Role.admin):
        return NeedSource.official, resident_id
    if by.has_any(Role.operator):
        return NeedSource.operator, resident_id
    if by.has_any(Role.resident) and by.resident_id is not None:
        if resident_id is not None and resident_id != by.resident_id:
            raise NotFound("No such resident.")
        return NeedSource.resident, by.resident_id
    if by.has_any(Role.open311_client):
        # An Open311 application (docs/api-keys.md): counted in the pool, naming no resident's record.
        if resident_id is not None:
            raise ValidationFailed(
                "An Open311 application cannot record a need for a named resident.", code="resident_id_not_allowed"
            )
        return NeedSource.application, None
    raise Forbidden("Residents, operators and officials record needs.")


def _can_read_all(viewer: Principal) -> bool:
    return viewer.has_any(Role.official, Role.admin, Role.operator)


async def list_needs(
    session: AsyncSession,
    *,
    viewer: Principal,
    page: Pagination,
    category_code: str | None = None,
    community_code: str | None = None,
) -> Page[Need]:
    """Staff see every need; a resident their own."""
    where: list[ColumnElement[bool]] = []
    if not _can_read_all(viewer):
        if not viewer.has_any(Role.resident) or viewer.resident_id is None:
            raise Forbidden("This account cannot read needs.")
        where.append(NeedModel.resident_id == viewer.resident_id)
    if category_code is not None:
        where.append(NeedModel.category_code == category_code)
    if community_code is not None:
        where.append(NeedModel.community_code == community_code)
    rows, total = await repository.list_needs(session, where=where, page=page)
    return page.of(await views(session, rows), total)


async def get_need(session: AsyncSession, need_id: uuid.UUID, *, viewer: Principal) -> Need:
    need = await repository.get_need(session, need_id)
    if need is None or not (_can_read_all(viewer) or (viewer.resident_id and viewer.resident_id == need.resident_id)):
        raise NotFound("No such need.")
    (view,) = await views(session, [need])
    return view


async def list_groups(
    session: AsyncSession,
    *,
    page: Pagination,
    category_code: str | None = None,
    community_code: str | None = None,
) -> Page[NeedGroup]:
    """The top needs: groups by count, largest first."""
    where: list[ColumnElement[bool]] = []
    if category_code is not None:
        where.append(GroupModel.category_code == category_code)
    if community_code is not None:
        where.append(GroupModel.community_code == community_code)
    rows, total = await repository.list_groups(session, where=where, page=page)
    return page.of([NeedGroup.model_validate(g) for g in rows], total)


async def forget_resident(session: AsyncSession, resident_id: uuid.UUID, *, erased_text: str) -> None:
    """Erasure: a resident's needs keep the category and community procurement's pool counted, not their text."""
    await repository.forget_texts(session, resident_id, erased_text=erased_text)
