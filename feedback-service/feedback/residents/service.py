"""What feedback knows of residents beyond their ids: whose helper may file for them, and which records were
merged.

A helper (a relative's resident account the resident authorised in booking-service) files a complaint or a need
for the resident with their own token, naming the resident as staff do (``resident_id``). Feedback admits it only
while it knows an active grant (``resident.helper_granted``, not yet ``.helper_revoked``); otherwise the answer is
the one for any resident who is not the caller (404). What a helper files is the resident's, recorded as filed by
the helper (``filed_by`` / ``submitted_by`` is the helper's account, ``helper_resident_id`` their record).

A merge (``resident.merged``) moves everything filed under the duplicate to the survivor — complaints, needs,
ratings, open rating invitations, the bookings feedback knows — in the consumer's one transaction with the
event's inbox row, so a redelivered event moves nothing twice."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from feedback.residents import repository
from service_kit.auth import Principal, Role
from service_kit.events.contracts import ResidentHelperChanged, ResidentMerged
from service_kit.timeutil import as_aware


def _grant(event: ResidentHelperChanged) -> dict[str, Any]:
    """The grant a helper event is about, as the projection stores it."""
    return {
        "grant_id": event.grant_id,
        "resident_id": event.resident_id,
        "helper_resident_id": event.helper_resident_id,
        "as_of": as_aware(event.occurred_at),
    }


async def store_granted(session: AsyncSession, event: ResidentHelperChanged) -> None:
    await repository.grant(session, **_grant(event))


async def store_revoked(session: AsyncSession, event: ResidentHelperChanged) -> None:
    await repository.revoke(session, **_grant(event))


async def apply_merge(session: AsyncSession, event: ResidentMerged) -> None:
    moved = await repository.move_filed(session, event.duplicate_id, event.survivor_id)
    await repository.record_merge(session, event.duplicate_id, event.survivor_id, moved, as_aware(event.occurred_at))


async def helping(session: AsyncSession, by: Principal, resident_id: uuid.UUID | None) -> uuid.UUID | None:
    """The caller's own resident id when they act as ``resident_id``'s helper under an active grant; None when
    the caller is staff, names nobody or themself, or has no active grant (the caller's usual rules apply)."""
    if resident_id is None or by.resident_id is None or resident_id == by.resident_id:
        return None
    if by.has_any(Role.operator, Role.official, Role.admin) or not by.has_any(Role.resident):
        return None
    if await repository.is_active(session, resident_id, by.resident_id):
        return by.resident_id
    return None
