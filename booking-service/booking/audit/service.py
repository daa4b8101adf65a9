"""The acting-for trail: every change or look an operator (or admin) makes on a resident's behalf."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from booking.audit import repository
from booking.audit import schemas as s
from service_kit.auth import Principal, Role
from service_kit.timeutil import utcnow


def acts_for_others(principal: Principal) -> bool:
    return principal.has_any(Role.operator, Role.admin)


async def record(
    session: AsyncSession,
    by: Principal,
    resident_id: uuid.UUID,
    action: str,
    *,
    booking_id: uuid.UUID | None = None,
    helper_resident_id: uuid.UUID | None = None,
) -> None:
    """Record that ``by`` did ``action`` for the resident: an operator (or admin), or the resident's helper
    (``helper_resident_id``: a relative's resident account the resident authorised). Residents and providers
    acting for themselves are not "acting for" anyone and leave no record here."""
    if not acts_for_others(by) and helper_resident_id is None:
        return
    # A row of its own, not an object for the unit of work: nothing reads it back in the request, and a flush
    # per booking cost more than the insert.
    await repository.add(session, _row(by, resident_id, action, booking_id, helper_resident_id, utcnow()))


async def record_many(
    session: AsyncSession,
    by: Principal,
    resident_id: uuid.UUID,
    action: str,
    *,
    booking_ids: list[uuid.UUID],
    helper_resident_id: uuid.UUID | None = None,
) -> None:
    """``record`` for each of ``booking_ids`` (a series' bookings), in one statement."""
    if not booking_ids or (not acts_for_others(by) and helper_resident_id is None):
        return
    at = utcnow()
    await repository.add_many(
        session, [_row(by, resident_id, action, booking_id, helper_resident_id, at) for booking_id in booking_ids]
    )


async def record_reveal(
    session: AsyncSession, by: Principal, resident_id: uuid.UUID, action: str, *, booking_id: uuid.UUID, at: datetime
) -> None:
    """Record that ``by`` (a provider's staff member) was shown the resident's personal data for a visit: the
    resident reads it in her log beside what operators did for her."""
    await repository.add(session, _row(by, resident_id, action, booking_id, None, at))


def _row(
    by: Principal,
    resident_id: uuid.UUID,
    action: str,
    booking_id: uuid.UUID | None,
    helper_resident_id: uuid.UUID | None,
    at: datetime,
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "operator_subject": by.subject[:160],
        "operator_name": by.name[:100] if by.name else None,
        "resident_id": resident_id,
        "action": action,
        "booking_id": booking_id,
        "helper_resident_id": helper_resident_id,
        "at": at,
    }


async def for_resident(
    session: AsyncSession, resident_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[s.ActingFor], int]:
    records, total = await repository.list_for_resident(session, resident_id, limit=limit, offset=offset)
    return [s.ActingFor.model_validate(r, from_attributes=True) for r in records], total


async def move_to_resident(session: AsyncSession, from_id: uuid.UUID, to_id: uuid.UUID) -> None:
    """A merged duplicate's trail becomes the survivor's (as resident and as helper)."""
    await repository.move_resident(session, from_id, to_id)
