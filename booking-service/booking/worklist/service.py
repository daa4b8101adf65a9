"""The shift's work list: every call the hotline owes, of every kind, in one list the longest due first, each
item taken by one operator and closed once.

Booking lists what it holds: callbacks due, bookings a provider did not confirm by their deadline (still requested,
or expired by the sweep: tell the resident, rebook), waitlist offers held for a resident who has not answered,
eligibility re-checks open, and no-shows a provider recorded (a resident living alone first in mind).

Complaints past their acknowledgement or resolution deadline live in feedback-service, which already lets
operators read them (``GET /api/v1/complaints?overdue=true``) with the deadlines it computes by severity. The
console reads that list and merges it into the shift's; booking only records who took and closed a complaint (kind
``complaint``, the complaint's id). Keeping a copy here from complaint events would be the harder and the wrong
one: the events carry neither the deadlines nor the acknowledgement, so booking could not tell when one is overdue
or no longer is.
"""

import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from booking.bookings.models import Booking, BookingStatus
from booking.calls import repository as calls_repository
from booking.calls.models import Callback
from booking.catalog import service as catalog
from booking.entitlements.models import EligibilityRecheck
from booking.residents import repository as residents_repository
from booking.residents import service as residents
from booking.waitlist.models import WaitlistEntry
from booking.worklist import repository
from booking.worklist import schemas as s
from booking.worklist.models import WorklistFollowUp
from service_kit.auth import Principal
from service_kit.errors import Conflict, NotFound
from service_kit.timeutil import SHANGHAI

# Bookings that ended (expired unconfirmed, no-show) stay on the list this long unless someone closes them: the
# shift after next still sees them, and last month's do not bury today's.
LOOKBACK = timedelta(days=14)

_MODELS: dict[str, Any] = {
    "callback": Callback,
    "unconfirmed_booking": Booking,
    "no_show": Booking,
    "waitlist_offer": WaitlistEntry,
    "recheck": EligibilityRecheck,
}


async def worklist(
    session: AsyncSession,
    *,
    due_before: datetime,
    kinds: Collection[str] | None,
    by: Principal,
    now: datetime,
    limit: int,
    offset: int,
) -> tuple[list[s.WorklistItem], int]:
    rows, total = await repository.open_items(
        session,
        kinds=kinds or s.LISTED_KINDS,
        due_before=due_before,
        past_deadline_by=min(now, due_before),
        since=now - LOOKBACK,
        limit=limit,
        offset=offset,
    )
    found: dict[str, dict[uuid.UUID, Any]] = {}
    for kind in {r.kind for r in rows}:
        found[kind] = await repository.by_ids(session, _MODELS[kind], [r.item_id for r in rows if r.kind == kind])
    offering_ids = {
        x.offering_id
        for kind in ("unconfirmed_booking", "no_show", "waitlist_offer")
        for x in found.get(kind, {}).values()
    }
    offerings = await catalog.offerings_by_id(session, offering_ids)
    resident_ids = {r.resident_id for r in rows}
    people = await residents.summaries(session, resident_ids, by)
    alone = {
        r.id
        for r in await residents_repository.get_many(session, resident_ids)
        if "living_alone" in (r.eligibility_tags or [])
    }
    today = now.astimezone(SHANGHAI).date()
    items = []
    for row in rows:
        thing = found[row.kind][row.item_id]
        about = s.About()
        if row.kind == "callback":
            reason = "callback_due"
            about = s.About(callback_reason=thing.reason, attempts=thing.attempts)
        elif row.kind == "recheck":
            reason = "eligibility_expired" if thing.expires_on < today else "eligibility_expiring"
            about = s.About(tag=thing.tag, expires_on=thing.expires_on)
        else:
            offering = offerings.get(thing.offering_id)
            about = s.About(
                offering_name=offering.name_zh if offering else None,
                provider_name=offering.provider_name if offering else None,
                slot_start=thing.slot_start,
            )
            if row.kind == "waitlist_offer":
                reason = "offer_unanswered"
                about.hold_until = thing.offer_expires_at
            else:
                about.booking_id = thing.id
                about.booking_status = thing.status
                if row.kind == "no_show":
                    reason = "resident_absent_living_alone" if row.resident_id in alone else "resident_absent"
                elif thing.status == BookingStatus.expired:
                    reason = "booking_expired_unconfirmed"
                else:
                    reason = "provider_not_confirmed"
        items.append(
            s.WorklistItem(
                kind=row.kind,
                item_id=row.item_id,
                resident_id=row.resident_id,
                resident=people.get(row.resident_id),
                reason=reason,
                due_at=row.due_at,
                about=about,
                taken_by_name=row.taken_by_name,
                taken_at=row.taken_at,
            )
        )
    return items, total


def _still_open(kind: str, thing: Any) -> bool:
    if kind == "callback":
        return bool(thing.status == "due")
    if kind == "unconfirmed_booking":
        return thing.confirm_by is not None and thing.status in (BookingStatus.requested, BookingStatus.expired)
    if kind == "no_show":
        return bool(thing.status == BookingStatus.no_show)
    if kind == "waitlist_offer":
        return bool(thing.status == "offered")
    return thing.closed_at is None


async def _open_item(session: AsyncSession, kind: str, item_id: uuid.UUID, data: s.Take) -> uuid.UUID | None:
    """The resident an open item is about; 404 when there is no such item of that kind, 409 when it no longer
    needs a call (the callback done, the offer answered, the re-check closed …)."""
    if kind == "complaint":
        return data.resident_id
    thing = (await repository.by_ids(session, _MODELS[kind], [item_id])).get(item_id)
    if thing is None:
        raise NotFound("No such item on the work list.", code="worklist_item_not_found")
    if not _still_open(kind, thing):
        raise Conflict("This item needs no call any more.", code="worklist_item_done")
    resident_id: uuid.UUID = thing.resident_id
    return resident_id


def _refusal(existing: WorklistFollowUp | None) -> Conflict:
    if existing is not None and existing.done_at is not None:
        return Conflict(
            f"{existing.done_by_name or 'Another operator'} has already closed this item.",
            code="worklist_item_done",
            done_by_name=existing.done_by_name,
        )
    name = existing.taken_by_name if existing else None
    return Conflict(
        f"{name or 'Another operator'} has already taken this item.", code="worklist_item_taken", taken_by_name=name
    )


async def take(
    session: AsyncSession, kind: str, item_id: uuid.UUID, data: s.Take, *, by: Principal, now: datetime
) -> s.FollowUp:
    """Take an item: it is yours to call (409 ``worklist_item_taken`` when another operator took it first,
    ``worklist_item_done`` when it is closed). Taking again what you hold changes nothing."""
    existing = await repository.get(session, kind, item_id)
    if existing is None:
        resident_id = await _open_item(session, kind, item_id, data)
        values = {"kind": kind, "item_id": item_id, "resident_id": resident_id}
        await repository.take(session, {**values, "taken_by": by.subject, "taken_by_name": by.name, "taken_at": now})
        existing = await repository.get(session, kind, item_id)
    assert existing is not None
    if existing.done_at is not None or existing.taken_by != by.subject:
        raise _refusal(existing)
    return s.FollowUp.model_validate(existing)


async def done(
    session: AsyncSession, kind: str, item_id: uuid.UUID, data: s.Done, *, by: Principal, now: datetime
) -> s.FollowUp:
    """Close an item the operator took (or takes now): it leaves the list. On a callback it is the callback's own
    outcome ``done``. 409 ``worklist_item_taken`` when another operator holds it, ``worklist_item_done`` when it
    is closed already (by a racing request too)."""
    await take(session, kind, item_id, s.Take(), by=by, now=now)
    values = {"done_by": by.subject, "done_by_name": by.name, "done_at": now, "note": data.note or None}
    if not await repository.close(session, kind, item_id, by.subject, values):
        raise _refusal(await repository.get(session, kind, item_id))
    if kind == "callback":
        callback = await calls_repository.get_callback(session, item_id)
        outcome = {"status": "done", "done_by": by.subject, "done_by_name": by.name, "done_at": now}
        if callback is None or not await calls_repository.record_attempt(
            session, item_id, callback.attempts, {**outcome, "last_note": data.note or None}
        ):
            raise Conflict("Another operator has just worked this callback.", code="worklist_item_done")
    closed = await repository.get(session, kind, item_id)
    return s.FollowUp.model_validate(closed)


async def followups(session: AsyncSession, kind: str, item_ids: list[uuid.UUID]) -> list[s.FollowUp]:
    return [s.FollowUp.model_validate(f) for f in await repository.of_items(session, kind, item_ids)]


async def complaints_taken(session: AsyncSession, limit: int) -> list[s.FollowUp]:
    return [s.FollowUp.model_validate(f) for f in await repository.open_taken(session, "complaint", limit)]


async def done_by_operator(
    session: AsyncSession, since: datetime, until: datetime
) -> dict[str, tuple[str | None, int]]:
    return await repository.done_by_operator(session, since, until)
