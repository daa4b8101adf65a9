"""Every SQL statement of the hotline's calls and callbacks."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.calls.models import Callback, CallRecord
from service_kit.db import reassign
from service_kit.pagination import fetch_page


async def add(session: AsyncSession, *rows: CallRecord | Callback) -> None:
    session.add_all(rows)
    await session.flush()


async def calls_of(
    session: AsyncSession, resident_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[CallRecord], int]:
    query = (
        select(CallRecord).where(CallRecord.resident_id == resident_id).order_by(CallRecord.at.desc(), CallRecord.id)
    )
    return await fetch_page(session, query, limit=limit, offset=offset)


async def callbacks_of_calls(session: AsyncSession, call_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Callback]:
    if not call_ids:
        return {}
    result = await session.execute(select(Callback).where(Callback.call_id.in_(list(call_ids))))
    return {c.call_id: c for c in result.scalars()}


async def get_callback(session: AsyncSession, callback_id: uuid.UUID) -> Callback | None:
    return await session.get(Callback, callback_id, populate_existing=True)


async def due_callbacks(
    session: AsyncSession, *, due_before: datetime, limit: int, offset: int
) -> tuple[Sequence[Callback], int]:
    """Callbacks still owed whose time has come by ``due_before``, the longest due first."""
    query = (
        select(Callback)
        .where(Callback.status == "due", Callback.due_at <= due_before)
        .order_by(Callback.due_at, Callback.id)
    )
    return await fetch_page(session, query, limit=limit, offset=offset)


async def record_attempt(session: AsyncSession, callback_id: uuid.UUID, attempts: int, values: dict[str, Any]) -> bool:
    """Write an outcome to a callback still due and as the operator saw it (``attempts``); False when another
    operator's outcome came first."""
    result = await session.execute(
        update(Callback)
        .where(Callback.id == callback_id, Callback.status == "due", Callback.attempts == attempts)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def counts_by_operator(session: AsyncSession, since: datetime, until: datetime) -> dict[str, dict[str, Any]]:
    """Per operator, between ``since`` and ``until``: calls logged, callbacks scheduled and callbacks done."""
    found: dict[str, dict[str, Any]] = {}

    def row(subject: str, name: str | None) -> dict[str, Any]:
        entry = found.setdefault(
            subject,
            {"operator": subject, "operator_name": name, "calls": 0, "callbacks_done": 0, "callbacks_scheduled": 0},
        )
        entry["operator_name"] = entry["operator_name"] or name
        return entry

    calls = select(CallRecord.operator, func.max(CallRecord.operator_name), func.count()).where(
        CallRecord.at >= since, CallRecord.at < until
    )
    for subject, name, count in (await session.execute(calls.group_by(CallRecord.operator))).all():
        row(subject, name)["calls"] = count
    scheduled = select(Callback.created_by, func.max(Callback.created_by_name), func.count()).where(
        Callback.created_at >= since, Callback.created_at < until
    )
    for subject, name, count in (await session.execute(scheduled.group_by(Callback.created_by))).all():
        row(subject, name)["callbacks_scheduled"] = count
    done = select(Callback.done_by, func.max(Callback.done_by_name), func.count()).where(
        Callback.status == "done", Callback.done_at >= since, Callback.done_at < until
    )
    for done_by, name, count in (await session.execute(done.group_by(Callback.done_by))).all():
        row(done_by or "", name)["callbacks_done"] = count
    return found


async def move_resident(session: AsyncSession, from_id: uuid.UUID, to_id: uuid.UUID) -> tuple[int, int]:
    """A merged duplicate's calls and callbacks become the survivor's: how many of each moved."""
    calls = await reassign(session, CallRecord.resident_id, from_id, to_id)
    return calls, await reassign(session, Callback.resident_id, from_id, to_id)


async def forget_resident(session: AsyncSession, resident_id: uuid.UUID, *, erased_reason: str) -> None:
    """Erasure: what operators wrote about the resident (call notes, who called for them, why and how a callback
    went) goes; each call and callback stays with its reason code, operator and times, so the shift's counts
    hold. A callback still owed is closed (``erased``): there is nobody left to call."""
    await session.execute(
        update(CallRecord)
        .where(CallRecord.resident_id == resident_id)
        .values(note="", caller_name=None, caller_relation=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Callback)
        .where(Callback.resident_id == resident_id)
        .values(reason=erased_reason, last_note=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Callback)
        .where(Callback.resident_id == resident_id, Callback.status == "due")
        .values(status="erased")
        .execution_options(synchronize_session=False)
    )
