"""Every SQL statement of the ratings module."""

import uuid
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.ratings.models import InvitationStatus, Rating, RatingInvitation
from service_kit.db import upsert
from service_kit.pagination import Pagination, fetch_page
from service_kit.timeutil import utcnow


class DuplicateRating(Exception):
    """The unique key on ``rating.booking_id`` refused a second rating of one booking."""


async def insert_invitation_if_absent(session: AsyncSession, *, invitation_id: uuid.UUID, **values: Any) -> bool:
    """Insert an invitation unless its booking already has one. Returns whether a row was inserted.

    ``ON CONFLICT DO NOTHING`` (both SQLite and PostgreSQL) makes this safe against a competing consumer
    inserting the same booking at the same moment."""
    now = utcnow()
    statement = (
        upsert(session, RatingInvitation)
        .values(id=invitation_id, status=InvitationStatus.pending, created_at=now, updated_at=now, **values)
        .on_conflict_do_nothing(index_elements=["booking_id"])
    )
    result = cast(CursorResult[Any], await session.execute(statement))
    return result.rowcount == 1


async def get_invitation_by_booking(session: AsyncSession, booking_id: uuid.UUID) -> RatingInvitation | None:
    result = await session.execute(select(RatingInvitation).where(RatingInvitation.booking_id == booking_id))
    return result.scalar_one_or_none()


async def list_invitations(
    session: AsyncSession, *, resident_id: uuid.UUID, status: InvitationStatus, page: Pagination
) -> tuple[list[RatingInvitation], int]:
    where = (RatingInvitation.resident_id == resident_id, RatingInvitation.status == status)
    query = select(RatingInvitation).where(*where).order_by(RatingInvitation.completed_at.desc(), RatingInvitation.id)
    rows, total = await fetch_page(session, query, limit=page.limit, offset=page.offset)
    return list(rows), total


async def mark_invitation_rated(session: AsyncSession, invitation_id: uuid.UUID) -> bool:
    """The guarded transition pending → rated; False when another request got there first."""
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(RatingInvitation)
            .where(RatingInvitation.id == invitation_id, RatingInvitation.status == InvitationStatus.pending)
            .values(status=InvitationStatus.rated, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount == 1


async def insert_rating(session: AsyncSession, rating: Rating) -> Rating:
    """Insert and flush now, so a duplicate surfaces here as ``DuplicateRating`` rather than at commit."""
    session.add(rating)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise DuplicateRating(str(rating.booking_id)) from exc
    return rating


async def get_rating(session: AsyncSession, rating_id: uuid.UUID) -> Rating | None:
    return await session.get(Rating, rating_id)


async def list_ratings_of_provider(
    session: AsyncSession, provider_id: uuid.UUID, page: Pagination
) -> tuple[list[Rating], int]:
    query = select(Rating).where(Rating.provider_id == provider_id).order_by(Rating.created_at.desc(), Rating.id)
    rows, total = await fetch_page(session, query, limit=page.limit, offset=page.offset)
    return list(rows), total


async def forget_comments(session: AsyncSession, resident_id: uuid.UUID) -> None:
    await session.execute(
        update(Rating)
        .where(Rating.resident_id == resident_id)
        .values(comment=None)
        .execution_options(synchronize_session=False)
    )
