"""The database itself keeps the rules: one invitation and one rating per booking, stars within 1–5."""

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback.ratings import repository
from feedback.ratings.models import InvitationStatus, Rating, RatingInvitation
from feedback.ratings.service import open_invitation
from service_kit.events.contracts import BookingCompleted
from service_kit.timeutil import utcnow


def rating_for(invitation: RatingInvitation, stars: int = 5, **extra: Any) -> Rating:
    return Rating(
        invitation_id=invitation.id,
        booking_id=invitation.booking_id,
        resident_id=invitation.resident_id,
        provider_id=invitation.provider_id,
        offering_id=invitation.offering_id,
        stars=stars,
        tags=[],
        submitted_by="test",
        **extra,
    )


async def test_invitation_is_inserted_once_per_booking(
    sessionmaker: async_sessionmaker[AsyncSession], booking_completed: Callable[..., BookingCompleted]
) -> None:
    event = booking_completed()
    async with sessionmaker() as session, session.begin():
        assert await open_invitation(session, event) is True
    async with sessionmaker() as session, session.begin():
        assert await open_invitation(session, event) is False
    async with sessionmaker() as session:
        count = await session.execute(select(func.count()).select_from(RatingInvitation))
        assert count.scalar_one() == 1
        invitation = await repository.get_invitation_by_booking(session, event.booking_id)
        assert invitation is not None
        assert invitation.status == InvitationStatus.pending


async def test_pending_to_rated_is_a_guarded_transition(
    sessionmaker: async_sessionmaker[AsyncSession], booking_completed: Callable[..., BookingCompleted]
) -> None:
    event = booking_completed()
    async with sessionmaker() as session, session.begin():
        await open_invitation(session, event)
        invitation = await repository.get_invitation_by_booking(session, event.booking_id)
        assert invitation is not None
        assert await repository.mark_invitation_rated(session, invitation.id) is True
        assert await repository.mark_invitation_rated(session, invitation.id) is False


async def test_second_rating_of_a_booking_is_refused_by_the_unique_key(
    sessionmaker: async_sessionmaker[AsyncSession], booking_completed: Callable[..., BookingCompleted]
) -> None:
    """Even a code path that skipped the invitation's guard could not rate a booking twice."""
    event = booking_completed()
    async with sessionmaker() as session, session.begin():
        await open_invitation(session, event)
        invitation = await repository.get_invitation_by_booking(session, event.booking_id)
    assert invitation is not None
    async with sessionmaker() as session, session.begin():
        await repository.insert_rating(session, rating_for(invitation, 5))
    async with sessionmaker() as session, session.begin():
        with pytest.raises(repository.DuplicateRating):
            await repository.insert_rating(session, rating_for(invitation, 1))
        await session.rollback()
    async with sessionmaker() as session:
        stars = (await session.execute(select(Rating.stars).where(Rating.booking_id == event.booking_id))).scalars()
        assert list(stars) == [5]


@pytest.mark.parametrize(("field", "value"), [("stars", 0), ("stars", 6), ("punctuality", 0), ("value", 9)])
async def test_out_of_range_stars_are_refused_by_the_database(
    sessionmaker: async_sessionmaker[AsyncSession],
    booking_completed: Callable[..., BookingCompleted],
    field: str,
    value: int,
) -> None:
    event = booking_completed()
    async with sessionmaker() as session, session.begin():
        await open_invitation(session, event)
        invitation = await repository.get_invitation_by_booking(session, event.booking_id)
    assert invitation is not None
    rating = rating_for(invitation)
    setattr(rating, field, value)
    async with sessionmaker() as session:
        session.add(rating)
        with pytest.raises(IntegrityError):
            await session.flush()


async def test_provider_ratings_are_newest_first(
    sessionmaker: async_sessionmaker[AsyncSession], booking_completed: Callable[..., BookingCompleted]
) -> None:
    from datetime import timedelta

    from service_kit.pagination import Pagination

    provider_id = uuid.uuid4()
    now = utcnow()
    async with sessionmaker() as session, session.begin():
        for age in (3, 1, 2):
            event = booking_completed(provider_id=provider_id)
            await open_invitation(session, event)
            invitation = await repository.get_invitation_by_booking(session, event.booking_id)
            assert invitation is not None
            at = now - timedelta(days=age)
            await repository.insert_rating(session, rating_for(invitation, age, created_at=at, updated_at=at))
    async with sessionmaker() as session:
        rows, total = await repository.list_ratings_of_provider(session, provider_id, Pagination(limit=10, offset=0))
    assert total == 3
    assert [r.stars for r in rows] == [1, 2, 3]
