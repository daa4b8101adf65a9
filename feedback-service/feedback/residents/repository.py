"""Every SQL statement of what feedback knows of residents: helper grants and merged records."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.complaints.models import Complaint
from feedback.needs.models import Need
from feedback.ratings.models import Rating, RatingInvitation
from feedback.reference.models import KnownBooking
from feedback.residents.models import KnownHelperGrant, ResidentMergeApplied
from service_kit.db import upsert


async def grant(session: AsyncSession, **values: Any) -> None:
    """Record a grant as active unless it is known already (a revocation that arrived first stays final)."""
    statement = upsert(session, KnownHelperGrant).values(**values, active=True)
    await session.execute(statement.on_conflict_do_nothing(index_elements=["grant_id"]))


async def revoke(session: AsyncSession, **values: Any) -> None:
    statement = upsert(session, KnownHelperGrant).values(**values, active=False)
    statement = statement.on_conflict_do_update(
        index_elements=["grant_id"], set_={"active": False, "as_of": statement.excluded["as_of"]}
    )
    await session.execute(statement)


async def is_active(session: AsyncSession, resident_id: uuid.UUID, helper_id: uuid.UUID) -> bool:
    query = select(KnownHelperGrant.grant_id).where(
        KnownHelperGrant.resident_id == resident_id,
        KnownHelperGrant.helper_resident_id == helper_id,
        KnownHelperGrant.active.is_(True),
    )
    return (await session.execute(query.limit(1))).first() is not None


async def move_filed(session: AsyncSession, duplicate_id: uuid.UUID, survivor_id: uuid.UUID) -> dict[str, int]:
    """Everything filed under the duplicate becomes the survivor's: the number of rows moved per kind."""
    moved: dict[str, int] = {}
    for name, column in (
        ("complaints", Complaint.resident_id),
        ("needs", Need.resident_id),
        ("ratings", Rating.resident_id),
        ("invitations", RatingInvitation.resident_id),
        ("bookings", KnownBooking.resident_id),
        ("complaints_helped", Complaint.helper_resident_id),
        ("needs_helped", Need.helper_resident_id),
    ):
        result = await session.execute(
            update(column.class_)
            .where(column == duplicate_id)
            .values({column.key: survivor_id})
            .execution_options(synchronize_session=False)
        )
        moved[name] = int(result.rowcount)  # type: ignore[attr-defined]
    return moved


async def record_merge(
    session: AsyncSession, duplicate_id: uuid.UUID, survivor_id: uuid.UUID, moved: dict[str, int], at: datetime
) -> None:
    statement = upsert(session, ResidentMergeApplied).values(
        duplicate_id=duplicate_id,
        survivor_id=survivor_id,
        complaints_moved=moved["complaints"],
        needs_moved=moved["needs"],
        ratings_moved=moved["ratings"],
        at=at,
    )
    await session.execute(statement.on_conflict_do_nothing(index_elements=["duplicate_id"]))


async def end_grants_of(session: AsyncSession, resident_id: uuid.UUID) -> None:
    """Every helper grant the resident is in, as the one helped or as the helper."""
    await session.execute(
        update(KnownHelperGrant)
        .where(or_(KnownHelperGrant.resident_id == resident_id, KnownHelperGrant.helper_resident_id == resident_id))
        .values(active=False)
        .execution_options(synchronize_session=False)
    )
