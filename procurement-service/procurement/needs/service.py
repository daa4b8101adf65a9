"""The needs pool: residents' grouped suggestions, operators' and officials' needs; merging and ranking.

A street-scoped official records, reads, merges and declines their street's needs (another's is 404). The ranking
is one order over the whole pool (ranking some needs unranks every other), so only a district-wide official sets
it (403 ``district_only``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.audit import service as audit
from procurement.auth import ensure_district_wide, sees_street, street_of_new
from procurement.needs import repository, schemas
from procurement.needs.models import Need, NeedStatus
from service_kit.auth import Principal, Role
from service_kit.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from service_kit.events.contracts import NeedProgressed, NeedStage, NeedSubmitted
from service_kit.events.outbox import emit

# ---------------------------------------------------------------- progress told to the residents who asked


async def groups_answered_by(session: AsyncSession, need_ids: Sequence[uuid.UUID]) -> list[tuple[uuid.UUID, str]]:
    """The residents' groups each pool item speaks for, as (pool item, ``group_key``): its own group and those of
    every need merged into it, at any depth. Needs an operator or official added have no group (no author to
    tell) and add none."""
    found: list[tuple[uuid.UUID, str]] = []
    seen: set[uuid.UUID] = set()
    for root in dict.fromkeys(need_ids):
        level = [root]
        while level:
            seen.update(level)
            rows = await repository.group_keys(session, level)
            found.extend((root, key) for key in rows if key is not None)
            merged = await repository.merged_into_any(session, level)
            level = [i for i in merged if i not in seen]
    return sorted(dict.fromkeys(found), key=lambda pair: (str(pair[0]), pair[1]))


async def announce_progress(
    session: AsyncSession, need_ids: Sequence[uuid.UUID], *, status: NeedStage, at: datetime, **fields: Any
) -> None:
    """``need.progressed`` for every group the pool items speak for, in the transaction of the change."""
    for pool_need_id, group_key in await groups_answered_by(session, need_ids):
        await emit(
            session,
            NeedProgressed(group_key=group_key, status=status, pool_need_id=pool_need_id, occurred_at=at, **fields),
        )


async def announce_contract(
    session: AsyncSession,
    *,
    need_ids: Sequence[uuid.UUID],
    contract_id: uuid.UUID,
    title: str,
    offering_ids: Sequence[uuid.UUID],
    at: datetime,
) -> None:
    """A contract drawn from a call is signed: the needs the call answers (``need_ids``) are contracted, and,
    when it funds offerings, those can be booked near home (in_service) from the same moment."""
    if not need_ids:
        return
    await announce_progress(
        session, need_ids, status="contracted", at=at, contract_id=contract_id, contract_title=title
    )
    if offering_ids:
        await announce_progress(
            session,
            need_ids,
            status="in_service",
            at=at,
            contract_id=contract_id,
            contract_title=title,
            offering_ids=tuple(offering_ids),
        )


# ---------------------------------------------------------------- the pool


async def record_submitted(session: AsyncSession, event: NeedSubmitted, *, at: datetime) -> None:
    """Pool a need announced by feedback-service: one need per ``group_key``.

    ``count`` is the group's running total of residents asking, so the pool keeps the highest it has seen: a
    late or repeated event never lowers it, and no submission is counted twice. When the group's need was merged
    into another, the rise is carried over to the need it was merged into.
    """
    existing = await repository.of_group(session, event.group_key)
    if existing is not None:
        rise = event.count - existing.count
        if rise <= 0:
            return
        await repository.update_need(session, existing.id, count=event.count, updated_at=at)
        await audit.record(
            session,
            kind="need",
            subject_id=existing.id,
            action="counted",
            by=audit.SYSTEM,
            at=at,
            details={"need_event_id": str(event.need_id), "count": event.count},
        )
        target_id = existing.merged_into_id
        while target_id is not None:
            await repository.add_to_count(session, target_id, rise, updated_at=at)
            target_id = await repository.merged_into(session, target_id)
        return
    need = Need(
        source=event.source,
        group_key=event.group_key,
        category_code=event.category_code,
        community_code=event.community_code,
        target_group=event.target_group,
        summary=event.summary,
        count=event.count,
        status=NeedStatus.open,
        submitted_by=f"feedback:{event.source}",
        created_at=at,
        updated_at=at,
    )
    await repository.add(session, need)
    await audit.record(
        session,
        kind="need",
        subject_id=need.id,
        action="submitted",
        by=audit.SYSTEM,
        at=at,
        details={"need_event_id": str(event.need_id), "group_key": event.group_key, "count": event.count},
    )
    await emit(
        session, NeedProgressed(group_key=event.group_key, status="pooled", pool_need_id=need.id, occurred_at=at)
    )


async def create(session: AsyncSession, data: schemas.NeedCreate, *, by: Principal, now: datetime) -> Need:
    need = Need(
        source="official" if by.has_any(Role.official, Role.admin) else "operator",
        category_code=data.category_code,
        street_code=street_of_new(by, data.street_code),
        community_code=data.community_code,
        target_group=data.target_group,
        summary=data.summary,
        count=data.count,
        status=NeedStatus.open,
        submitted_by=by.subject,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, need)
    await audit.record(
        session, kind="need", subject_id=need.id, action="submitted", by=by, at=now, details=data.model_dump()
    )
    return need


async def unknown(session: AsyncSession, need_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Those of ``need_ids`` the pool does not hold, in their order."""
    found = {need.id for need in await repository.found(session, need_ids)}
    return [i for i in need_ids if i not in found]


async def get(session: AsyncSession, need_id: uuid.UUID, *, by: Principal | None = None) -> Need:
    """The need; another street's does not exist for a street-scoped official."""
    need = await repository.get(session, need_id)
    if need is None or not sees_street(by, need.street_code):
        raise NotFound("No such need.", code="need_not_found")
    return need


async def list_page(
    session: AsyncSession,
    *,
    status: NeedStatus | None,
    category_code: str | None,
    limit: int,
    offset: int,
    street_code: str | None = None,
) -> tuple[list[Need], int]:
    """A page of the pool (a street-scoped official's: their street's needs only): ranked needs first in the
    officials' order, then the most asked-for."""
    return await repository.list_page(
        session, status=status, category_code=category_code, street_code=street_code, limit=limit, offset=offset
    )


async def merge(session: AsyncSession, need_id: uuid.UUID, into_id: uuid.UUID, *, by: Principal, now: datetime) -> Need:
    """Merge a duplicate into another open need, which takes over its residents' count."""
    if need_id == into_id:
        raise ValidationFailed("A need cannot be merged into itself.", code="merge_into_self")
    duplicate = await get(session, need_id, by=by)
    target = await get(session, into_id, by=by)
    if target.status != NeedStatus.open:
        raise InvalidTransition("The need to merge into is itself merged.", code="merge_target_not_open")
    merged = await repository.move_open(
        session, need_id, status=NeedStatus.merged, merged_into_id=into_id, rank=None, updated_at=now
    )
    if not merged:
        raise InvalidTransition("The need is already merged.", current_status=str(NeedStatus.merged))
    await repository.add_to_count(session, into_id, duplicate.count, updated_at=now)
    await audit.record(
        session, kind="need", subject_id=need_id, action="merged", by=by, at=now, details={"into": str(into_id)}
    )
    await audit.record(
        session,
        kind="need",
        subject_id=into_id,
        action="absorbed",
        by=by,
        at=now,
        details={"from": str(need_id), "count": duplicate.count},
    )
    # The duplicate's residents (and those of needs merged into it before) are now asking through the target.
    for _, group_key in await groups_answered_by(session, [need_id]):
        await emit(session, NeedProgressed(group_key=group_key, status="pooled", pool_need_id=into_id, occurred_at=now))
    return await get(session, target.id)


async def decline(
    session: AsyncSession, need_id: uuid.UUID, data: schemas.NeedDecline, *, by: Principal, now: datetime
) -> Need:
    """An official decides the district will not buy an open need; its residents are told why."""
    need = await get(session, need_id, by=by)
    declined = await repository.move_open(
        session,
        need_id,
        status=NeedStatus.declined,
        rank=None,
        decline_reason=data.reason,
        declined_at=now,
        updated_at=now,
    )
    if not declined:
        await repository.refresh_status(session, need)
        raise InvalidTransition(
            f"Cannot decline a need that is {need.status}; it must be open.",
            code="need_not_open",
            current_status=str(need.status),
        )
    await audit.record(
        session, kind="need", subject_id=need_id, action="declined", by=by, at=now, details={"reason": data.reason}
    )
    await announce_progress(session, [need_id], status="declined", at=now, reason=data.reason)
    return await get(session, need_id)


async def rank(session: AsyncSession, need_ids: list[uuid.UUID], *, by: Principal, now: datetime) -> list[Need]:
    """Set the officials' order: the listed open needs ranked 1, 2, …; every other need loses its rank."""
    ensure_district_wide(by, "ranking the needs pool")
    if len(set(need_ids)) != len(need_ids):
        raise ValidationFailed("A need is listed twice.", code="duplicate_need")
    found = await repository.found(session, need_ids)
    by_id = {n.id: n for n in found if sees_street(by, n.street_code)}
    missing = [str(i) for i in need_ids if i not in by_id]
    if missing:
        raise NotFound("No such need.", code="need_not_found", need_ids=missing)
    merged = [str(n.id) for n in found if n.status != NeedStatus.open]
    if merged:
        raise Conflict("Merged needs cannot be ranked.", code="need_merged", need_ids=merged)
    await repository.unrank_all(session)
    for position, need_id in enumerate(need_ids, start=1):
        await repository.update_need(session, need_id, rank=position, updated_at=now)
    await audit.record(
        session,
        kind="need_pool",
        subject_id=uuid.UUID(int=0),
        action="ranked",
        by=by,
        at=now,
        details={"need_ids": [str(i) for i in need_ids]},
    )
    return await repository.found(session, need_ids, fresh=True)
