"""The rules of needs and suggestions: who records them, what is kept, how they are grouped for procurement.

A need names a category of the registry's taxonomy and, optionally, a community of its gazetteer, both as
feedback knows them (``feedback.reference``; 422 ``unknown_category`` / ``unknown_community`` otherwise).
Needs are grouped by (category, community): ``group_key`` is ``"<category_code>@<community_code or ->"``.
Each submission adds one to its group and emits ``need.submitted`` with the group's new count, so procurement's
needs pool sees how many residents of a community miss the same kind of service.
"""

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.communities import street_of
from feedback.needs import repository
from feedback.needs.models import Need as NeedModel
from feedback.needs.models import NeedGroup as GroupModel
from feedback.needs.models import NeedSource
from feedback.needs.schemas import Need, NeedCreate, NeedGroup, NeedSubmittedView
from feedback.reference import service as reference
from service_kit.auth import Principal, Role
from service_kit.errors import Forbidden, NotFound
from service_kit.events.contracts import NeedSubmitted
from service_kit.events.outbox import emit
from service_kit.logging import mask_personal_data
from service_kit.pagination import Page, Pagination
from service_kit.timeutil import utcnow

SUMMARY_LENGTH = 200


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
        via_open311=via_open311,
        created_at=now,
    )
    await repository.insert_need(session, need)
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
            source=source.value,
            submitted_at=now,
        ),
    )
    return NeedSubmittedView(**Need.model_validate(need).model_dump(), group_count=count)


def _source_of(by: Principal, resident_id: uuid.UUID | None) -> tuple[NeedSource, uuid.UUID | None]:
    if by.has_any(Role.official, Role.admin):
        return NeedSource.official, resident_id
    if by.has_any(Role.operator):
        return NeedSource.operator, resident_id
    if by.has_any(Role.resident) and by.resident_id is not None:
        if resident_id is not None and resident_id != by.resident_id:
            raise NotFound("No such resident.")
        return NeedSource.resident, by.resident_id
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
    return Page(items=[Need.model_validate(n) for n in rows], total=total, limit=page.limit, offset=page.offset)


async def get_need(session: AsyncSession, need_id: uuid.UUID, *, viewer: Principal) -> Need:
    need = await repository.get_need(session, need_id)
    if need is None or not (_can_read_all(viewer) or (viewer.resident_id and viewer.resident_id == need.resident_id)):
        raise NotFound("No such need.")
    return Need.model_validate(need)


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
    return Page(items=[NeedGroup.model_validate(g) for g in rows], total=total, limit=page.limit, offset=page.offset)
