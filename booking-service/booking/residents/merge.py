"""Merging a duplicate record into the survivor: one person, one record, also for records made before the rules
that now prevent duplicates (two records of one person registered with different phones before ID numbers were
required).

An operator checks on the call that both are the same person and merges, giving the reason. Everything the
duplicate had moves to the survivor in one transaction — bookings, app-account links, the acting-for trail,
helper grants (each moved grant is revoked and granted again between the survivor and the other party, so the
events tell feedback exactly who may act for whom), the evidence behind eligibility tags (where both proved one
tag, the evidence that holds longer), the entitlement units drawn (added up: what the survivor has left this
period counts both records' bookings), recurring series, places in waitlists (where both wait in one line, the
earlier place is kept and the other ends), calls, callbacks and urgent calls — and the survivor's empty fields are
filled from the duplicate (its ID number, birth date, address, emergency contact, community, app account;
eligibility tags are joined). The answer counts what moved. The duplicate stays only as a tombstone without
personal data: it answers 404 ``resident_merged`` naming ``survivor_id``. ``resident.merged`` tells feedback to
move the duplicate's complaints, needs and ratings.

Refused, with nothing changed: merging a record into itself (422 ``merge_into_itself``), a duplicate that does
not exist (422 ``unknown_resident``) or was merged already (409 ``already_merged``), two records with different
ID numbers (409 ``merge_id_card_conflict``: two people), and two records holding a booking of the same slot
(409 ``merge_booking_conflict``: cancel one first), and two records each with an urgent call still open (409
``merge_urgent_call_conflict``: one open urgent call per person; resolve one first)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from booking.audit import service as audit
from booking.bookings import service as bookings_service
from booking.calls import service as calls_service
from booking.config import Settings
from booking.entitlements import service as entitlements_service
from booking.residents import helpers, repository
from booking.residents import schemas as s
from booking.residents import service as residents_service
from booking.residents.models import MERGED_NAME, HelperGrant, Resident, ResidentMerge, without_personal_data
from booking.series import service as series_service
from booking.urgent import service as urgent_service
from booking.waitlist import service as waitlist_service
from service_kit.auth import Principal
from service_kit.errors import Conflict, ValidationFailed
from service_kit.events.contracts import ResidentHelperGranted, ResidentMerged
from service_kit.events.outbox import emit

# Fields of the survivor filled from the duplicate when the survivor has none (the ID number's three columns move
# together, as do the position's and the emergency contact's).
_FILLED_TOGETHER = (
    ("id_card_encrypted", "id_card_index", "id_card_masked"),
    ("birth_date",),
    ("address",),
    ("latitude", "longitude"),
    ("emergency_contact_name", "emergency_contact_phone", "emergency_contact_relation"),
    ("community_code",),
)


def _invalid(field: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}", code=code, errors=[{"field": field, "in": "body", "message": message, "type": code}]
    )


async def merge(
    session: AsyncSession,
    survivor_id: uuid.UUID,
    data: s.MergeRequest,
    *,
    by: Principal,
    settings: Settings,
    now: datetime,
) -> s.MergeResult:
    if data.duplicate_id == survivor_id:
        raise _invalid("duplicate_id", "a record cannot be merged into itself.", "merge_into_itself")
    await repository.lock(session, [survivor_id, data.duplicate_id])
    survivor = await residents_service.get_visible(session, survivor_id, by=by)
    duplicate = await repository.get(session, data.duplicate_id)
    if duplicate is not None and duplicate.merged_into_id is not None:
        raise Conflict(
            "This record was merged already.", code="already_merged", survivor_id=str(duplicate.merged_into_id)
        )
    if duplicate is None or duplicate.erased_at is not None:
        raise _invalid("duplicate_id", "no resident with this id.", "unknown_resident")
    if survivor.id_card_index and duplicate.id_card_index and survivor.id_card_index != duplicate.id_card_index:
        raise Conflict(
            "The two records have different ID numbers: they are two people, not one.", code="merge_id_card_conflict"
        )

    # The survivor's usage counters before the bookings: the lock order of ``booking.bookings.service``.
    entitlements = await entitlements_service.move_to_resident(session, duplicate.id, survivor.id)
    moved = await bookings_service.move_to_resident(session, duplicate.id, survivor.id)
    if moved is None:
        raise Conflict(
            "Both records hold a booking of the same slot: cancel one of them, then merge.",
            code="merge_booking_conflict",
        )
    urgent_moved = await urgent_service.move_to_resident(session, duplicate.id, survivor.id)
    if urgent_moved is None:
        raise Conflict(
            "两条记录都有未结束的紧急呼叫，请先结束其中一个再合并。 Both records have an urgent call still open: "
            "resolve one of them, then merge.",
            code="merge_urgent_call_conflict",
        )
    series_moved = await series_service.move_to_resident(session, duplicate.id, survivor.id)
    waiting_moved, waiting_ended = await waitlist_service.move_to_resident(
        session,
        duplicate.id,
        survivor.id,
        actor=bookings_service.actor_of(by),
        terms=waitlist_service.OfferTerms.of(settings),
        now=now,
    )
    calls_moved, callbacks_moved = await calls_service.move_to_resident(session, duplicate.id, survivor.id)
    fill = _filled_from(survivor, duplicate)
    # The duplicate gives up its unique fields (phone, ID number, account) before the survivor takes any.
    await repository.update_fields(
        session,
        duplicate.id,
        {**without_personal_data(MERGED_NAME), "merged_into_id": survivor.id, "merged_at": now, "updated_at": now},
    )
    if fill:
        taken = await repository.update_fields(session, survivor.id, {**fill, "updated_at": now})
        assert taken is None, taken  # the duplicate has just released them
    await repository.move_links(session, duplicate.id, survivor.id)
    await audit.move_to_resident(session, duplicate.id, survivor.id)
    grants_moved = await _move_grants(session, duplicate.id, survivor.id, by=by, now=now)
    await repository.add_merge(
        session,
        ResidentMerge(
            id=uuid.uuid4(),
            survivor_id=survivor.id,
            duplicate_id=duplicate.id,
            reason=data.reason,
            merged_by=by.subject[:160],
            merged_by_name=by.name[:100] if by.name else None,
            bookings_moved=moved,
            at=now,
        ),
    )
    await audit.record(session, by, survivor.id, "merge")
    await emit(
        session,
        ResidentMerged(duplicate_id=duplicate.id, survivor_id=survivor.id, merged_by=by.subject, occurred_at=now),
    )
    merged = await residents_service.get_visible(session, survivor.id, by=by)
    return s.MergeResult(
        survivor=residents_service.to_schema(merged, by),
        duplicate_id=duplicate.id,
        bookings_moved=moved,
        helper_grants_moved=grants_moved,
        evidence_moved=entitlements.evidence,
        entitlement_units_moved=entitlements.units,
        series_moved=series_moved,
        waitlist_entries_moved=waiting_moved,
        waitlist_entries_ended=waiting_ended,
        calls_moved=calls_moved,
        callbacks_moved=callbacks_moved,
        urgent_calls_moved=urgent_moved,
        merged_at=now,
    )


def _filled_from(survivor: Resident, duplicate: Resident) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for group in _FILLED_TOGETHER:
        if all(getattr(survivor, f) is None for f in group) and getattr(duplicate, group[0]) is not None:
            values.update({f: getattr(duplicate, f) for f in group})
    if survivor.account_subject is None and duplicate.account_subject is not None:
        values["account_subject"] = duplicate.account_subject
    tags = sorted(set(survivor.eligibility_tags) | set(duplicate.eligibility_tags))
    if tags != sorted(survivor.eligibility_tags):
        values["eligibility_tags"] = tags
    return values


async def _move_grants(
    session: AsyncSession, duplicate_id: uuid.UUID, survivor_id: uuid.UUID, *, by: Principal, now: datetime
) -> int:
    """Each active grant of the duplicate (as resident or as helper) is revoked and granted again with the
    survivor in its place, unless that would make the survivor their own helper or repeat an active grant."""
    grants = [
        *await repository.active_grants(session, resident_id=duplicate_id),
        *await repository.active_grants(session, helper_id=duplicate_id),
    ]
    moved = 0
    for old in grants:
        await helpers.end_grant(session, old, by=by.subject, reason="merged", at=now)
        resident_id = survivor_id if old.resident_id == duplicate_id else old.resident_id
        helper_id = survivor_id if old.helper_resident_id == duplicate_id else old.helper_resident_id
        if resident_id == helper_id:
            continue
        new = HelperGrant(
            id=uuid.uuid4(),
            resident_id=resident_id,
            helper_resident_id=helper_id,
            relation=old.relation,
            consent_channel=old.consent_channel,
            granted_by=old.granted_by,
            granted_at=now,
        )
        if not await repository.add_grant(session, new):
            continue  # the survivor already had this helper
        await emit(
            session,
            ResidentHelperGranted(
                grant_id=new.id, resident_id=resident_id, helper_resident_id=helper_id, occurred_at=now
            ),
        )
        moved += 1
    return moved


ERASED_REASON = "（已删除）"


async def forget_reasons(session: AsyncSession, resident_id: uuid.UUID) -> None:
    """Erasure: the reasons operators gave for merges of the resident's records (which often name them) go; who
    merged what, when, and how many bookings moved stay."""
    await repository.set_merge_reasons(session, resident_id, ERASED_REASON)
