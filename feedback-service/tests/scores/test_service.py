import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback.config import Settings
from feedback.scores import service
from feedback.scores.models import Outcome
from feedback.scores.service import PRIOR_MEAN, PRIOR_WEIGHT, bayesian_average
from service_kit.events.contracts import BookingCompleted, BookingNoShow, ScoreUpdated
from service_kit.events.tables import outbox_event
from service_kit.timeutil import utcnow

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=utcnow().tzinfo)


def test_no_ratings_score_the_prior_mean() -> None:
    assert bayesian_average({}) == PRIOR_MEAN


def test_one_five_star_rating_does_not_make_a_five_star_provider() -> None:
    assert bayesian_average({5: 1}) == pytest.approx((PRIOR_WEIGHT * PRIOR_MEAN + 5) / (PRIOR_WEIGHT + 1))
    assert bayesian_average({5: 1}) == pytest.approx(4.1667, abs=1e-4)


def test_many_ratings_outweigh_the_prior() -> None:
    many = bayesian_average({5: 160, 4: 40})  # raw mean 4.8
    assert many == pytest.approx((5 * 4.0 + 960) / 205)
    assert many > bayesian_average({5: 1})
    assert bayesian_average({1: 200}) == pytest.approx((20 + 200) / 205)


async def score_events(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(outbox_event.c.data).where(outbox_event.c.type == ScoreUpdated.type).order_by(outbox_event.c.seq)
    )
    return [dict(r) for (r,) in rows]


def ended(kind: type[BookingCompleted] | type[BookingNoShow], provider_id: uuid.UUID, offering_id: uuid.UUID) -> Any:
    return kind(
        booking_id=uuid.uuid4(),
        offering_id=offering_id,
        provider_id=provider_id,
        resident_id=uuid.uuid4(),
        status="completed" if kind is BookingCompleted else "no_show",
        channel="app",
        slot_start=T0,
        slot_end=T0 + timedelta(hours=1),
        price_fen=0,
        occurred_at=T0,
    )


async def test_score_updated_is_debounced_per_subject(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    settings = Settings(score_debounce_seconds=60)
    provider_id, offering_id = uuid.uuid4(), uuid.uuid4()
    async with sessionmaker() as session, session.begin():
        for _ in range(3):
            await service.record_outcome(session, ended(BookingCompleted, provider_id, offering_id), Outcome.completed)
        await service.record_outcome(session, ended(BookingNoShow, provider_id, offering_id), Outcome.no_show)

    async with sessionmaker() as session, session.begin():
        # Four changes, one event per subject.
        assert await service.publish_changed_scores(session, settings=settings, now=T0) == 2
        events = await score_events(session)
        assert {(e["subject_kind"], e["subject_id"]) for e in events} == {
            ("provider", str(provider_id)),
            ("offering", str(offering_id)),
        }
        provider_event = next(e for e in events if e["subject_kind"] == "provider")
        assert provider_event["provider_id"] == str(provider_id)
        assert provider_event["no_show_rate"] == 0.25
        assert provider_event["score"] == PRIOR_MEAN
        # Nothing changed since: nothing to send.
        assert await service.publish_changed_scores(session, settings=settings, now=T0 + timedelta(minutes=5)) == 0

    async with sessionmaker() as session, session.begin():
        await service.record_outcome(session, ended(BookingCompleted, provider_id, offering_id), Outcome.completed)
        # Changed again, but the last event is younger than the debounce interval: it waits.
        assert await service.publish_changed_scores(session, settings=settings, now=T0 + timedelta(seconds=30)) == 0
        assert await service.publish_changed_scores(session, settings=settings, now=T0 + timedelta(seconds=61)) == 2
        latest = (await score_events(session))[-1]
        assert latest["no_show_rate"] == 0.2


async def test_a_booking_counts_once(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    provider_id, offering_id = uuid.uuid4(), uuid.uuid4()
    event = ended(BookingCompleted, provider_id, offering_id)
    async with sessionmaker() as session, session.begin():
        assert await service.record_outcome(session, event, Outcome.completed)
        assert not await service.record_outcome(session, event, Outcome.completed)
        score = await service.score_of_provider(session, provider_id)
    assert (score.completed_bookings, score.no_shows, score.no_show_rate, score.complaint_rate) == (1, 0, 0.0, 0.0)
