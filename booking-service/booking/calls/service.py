"""The hotline's daily work: every call filed under a reason with a note and what came of it (the card's
timeline), callbacks scheduled from a call and worked through by the shift, and the shift's handover."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from booking.calls import repository
from booking.calls import schemas as s
from booking.calls.models import Callback, CallRecord
from booking.calls.reasons import URGENT_OUTCOME
from booking.residents import service as residents
from booking.urgent import service as urgent
from booking.worklist import service as worklist
from service_kit.auth import Principal
from service_kit.errors import Conflict, FieldProblems, NotFound, ValidationFailed
from service_kit.timeutil import as_aware


def _in_future(when: datetime, now: datetime) -> None:
    if as_aware(when) <= now:
        raise ValidationFailed("must be later than now.", code="callback_in_past")


async def log_call(
    session: AsyncSession, resident_id: uuid.UUID, data: s.CallCreate, *, by: Principal, now: datetime
) -> s.Call:
    resident = await residents.get_visible(session, resident_id, by=by)
    problems = FieldProblems()
    if data.caller.kind != "resident":
        with problems.field("caller.name"):
            if not data.caller.name:
                raise ValidationFailed("say who called for the resident.", code="caller_name_required")
    if data.caller.kind == "helper":
        with problems.field("caller.relation"):
            if not data.caller.relation:
                raise ValidationFailed("say how the helper is related to the resident.", code="relation_required")
    if data.callback is not None:
        with problems.field("callback.due_at"):
            _in_future(data.callback.due_at, now)
    problems.raise_any()
    call = CallRecord(
        id=uuid.uuid4(),
        resident_id=resident.id,
        reason=data.reason,
        note=data.note,
        caller_kind=data.caller.kind,
        caller_name=data.caller.name if data.caller.kind != "resident" else None,
        caller_relation=data.caller.relation if data.caller.kind != "resident" else None,
        outcome_kind=data.outcome.kind if data.outcome else None,
        outcome_id=data.outcome.id if data.outcome else None,
        operator=by.subject,
        operator_name=by.name,
        at=now,
    )
    callback = None
    if data.callback is not None:
        callback = Callback(
            id=uuid.uuid4(),
            resident_id=resident.id,
            call_id=call.id,
            due_at=as_aware(data.callback.due_at),
            reason=data.callback.reason,
            status="due",
            attempts=0,
            created_by=by.subject,
            created_by_name=by.name,
            created_at=now,
        )
        await repository.add(session, call, callback)
    else:
        await repository.add(session, call)
    return _call(call, callback)


async def calls_of(
    session: AsyncSession, resident_id: uuid.UUID, *, by: Principal, limit: int, offset: int
) -> tuple[list[s.Call], int]:
    resident = await residents.get_visible(session, resident_id, by=by)
    calls, total = await repository.calls_of(session, resident.id, limit=limit, offset=offset)
    callbacks = await repository.callbacks_of_calls(session, [c.id for c in calls])
    opened = await urgent.shown_by_ids(
        session, [c.outcome_id for c in calls if c.outcome_kind == URGENT_OUTCOME and c.outcome_id], by=by
    )
    return [
        _call(c, callbacks.get(c.id)).model_copy(update={"urgent": opened.get(c.outcome_id) if c.outcome_id else None})
        for c in calls
    ], total


ERASED_TEXT = "（已删除）"


async def forget_resident(session: AsyncSession, resident_id: uuid.UUID) -> None:
    """Erasure: the resident's calls and callbacks stay, without what operators wrote about them."""
    await repository.forget_resident(session, resident_id, erased_reason=ERASED_TEXT)


async def for_export(session: AsyncSession, resident_id: uuid.UUID, *, by: Principal, limit: int) -> list[s.Call]:
    """Every call about the resident with its callback and the urgent call it opened (their data export)."""
    calls, _ = await calls_of(session, resident_id, by=by, limit=limit, offset=0)
    return calls


async def due_callbacks(
    session: AsyncSession, *, due_before: datetime, by: Principal, limit: int, offset: int
) -> tuple[list[s.Callback], int]:
    callbacks, total = await repository.due_callbacks(session, due_before=due_before, limit=limit, offset=offset)
    return await _with_residents(session, callbacks, by), total


async def record_attempt(
    session: AsyncSession, callback_id: uuid.UUID, data: s.CallbackAttempt, *, by: Principal, now: datetime
) -> s.Callback:
    """``done``, or no answer and the next time to try: an outcome recorded once (409 ``callback_changed`` when
    another operator recorded one first, or the callback is done)."""
    callback = await repository.get_callback(session, callback_id)
    if callback is None:
        raise NotFound("No such callback.", code="callback_not_found")
    problems = FieldProblems()
    with problems.field("next_due_at"):
        if data.outcome == "no_answer":
            if data.next_due_at is None:
                raise ValidationFailed("say when to try again.", code="next_due_at_required")
            _in_future(data.next_due_at, now)
    problems.raise_any()
    if data.outcome == "done":
        values: dict[str, object] = {"status": "done", "done_by": by.subject, "done_by_name": by.name, "done_at": now}
    else:
        assert data.next_due_at is not None
        values = {"due_at": as_aware(data.next_due_at), "attempts": data.attempts + 1}
    values["last_note"] = data.note or None
    if not await repository.record_attempt(session, callback.id, data.attempts, values):
        raise Conflict(
            "Another operator has just worked this callback: look at it again.",
            code="callback_changed",
        )
    updated = await repository.get_callback(session, callback.id)
    assert updated is not None
    return (await _with_residents(session, [updated], by))[0]


async def handover(
    session: AsyncSession, *, since: datetime, until: datetime, by: Principal, due_limit: int, now: datetime
) -> s.Handover:
    """What is still open at the shift's end (callbacks, urgent calls, the work list with who took each item) and
    per operator what they took and closed."""
    if until <= since:
        raise ValidationFailed("until: must be later than since.", code="empty_shift")
    due, _ = await repository.due_callbacks(session, due_before=until, limit=due_limit, offset=0)
    counts = await repository.counts_by_operator(session, since, until)
    for subject, (name, opened) in (await urgent.opened_by_operator(session, since, until)).items():
        entry = counts.setdefault(
            subject,
            {"operator": subject, "operator_name": name, "calls": 0, "callbacks_done": 0, "callbacks_scheduled": 0},
        )
        entry["urgent_opened"] = opened
    for subject, (name, closed) in (await worklist.done_by_operator(session, since, until)).items():
        entry = counts.setdefault(
            subject,
            {"operator": subject, "operator_name": name, "calls": 0, "callbacks_done": 0, "callbacks_scheduled": 0},
        )
        entry["items_done"] = closed
    open_items, _ = await worklist.worklist(
        session, due_before=until, kinds=None, by=by, now=now, limit=due_limit, offset=0
    )
    still_open, _ = await urgent.still_open(session, by=by, limit=due_limit, offset=0)
    return s.Handover(
        since=since,
        until=until,
        callbacks_due=await _with_residents(session, due, by),
        urgent_open=still_open,
        worklist_open=open_items,
        complaints_taken=await worklist.complaints_taken(session, due_limit),
        operators=[s.OperatorCounts(**counts[k]) for k in sorted(counts)],
    )


async def _with_residents(session: AsyncSession, callbacks: Sequence[Callback], by: Principal) -> list[s.Callback]:
    people = await residents.summaries(session, {c.resident_id for c in callbacks}, by)
    return [_callback(c).model_copy(update={"resident": people.get(c.resident_id)}) for c in callbacks]


def _callback(callback: Callback) -> s.Callback:
    return s.Callback.model_validate(callback, from_attributes=True)


def _call(call: CallRecord, callback: Callback | None) -> s.Call:
    return s.Call(
        id=call.id,
        resident_id=call.resident_id,
        reason=call.reason,
        note=call.note,
        caller=s.Caller(kind=call.caller_kind, name=call.caller_name, relation=call.caller_relation),
        outcome=s.Outcome(kind=call.outcome_kind, id=call.outcome_id) if call.outcome_kind else None,
        operator_name=call.operator_name,
        at=call.at,
        callback=_callback(callback) if callback else None,
    )


async def move_to_resident(session: AsyncSession, from_id: uuid.UUID, to_id: uuid.UUID) -> tuple[int, int]:
    """A merged duplicate's calls and callbacks become the survivor's (the card's timeline and the shift's list
    show them under the survivor): how many calls and callbacks moved."""
    return await repository.move_resident(session, from_id, to_id)
