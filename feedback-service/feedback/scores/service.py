"""Provider and offering scores.

The score to rank by is a Bayesian average: every provider (and offering) starts with ``PRIOR_WEIGHT`` imaginary
ratings of ``PRIOR_MEAN`` stars, and real ratings outweigh them as they come in:

    bayesian = (PRIOR_WEIGHT * PRIOR_MEAN + sum of stars) / (PRIOR_WEIGHT + count)

So a new provider with a single 5-star rating scores 4.17, not 5.0, and does not outrank one with two hundred
ratings averaging 4.8. The prior mean of 4.0 is a typical rating of community services (most are 4 or 5 stars);
a weight of 5 lets a provider's own ratings dominate after a couple of weeks of service.

Beside it: the complaint rate (complaints per completed booking) and the no-show rate (no-shows per booking that
ended, completed or no-show), counted from ``booking.completed`` / ``booking.no_show``.

``score.updated`` is not sent per rating: each change bumps a counter (``score_change``), and a background job
sends one event per changed subject at most every ``Settings.score_debounce_seconds``.
"""

import uuid
from datetime import datetime, timedelta
from typing import cast

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.config import Settings
from feedback.scores import repository
from feedback.scores.models import Outcome
from feedback.scores.schemas import OfferingScore, ProviderScore, Score
from service_kit.events.contracts import BookingChanged, ScoreUpdated
from service_kit.events.outbox import emit
from service_kit.runtime import Runtime
from service_kit.timeutil import utcnow

log = structlog.get_logger("feedback.scores")

PRIOR_MEAN = 4.0
PRIOR_WEIGHT = 5
PUBLISH_BATCH = 200


def bayesian_average(star_counts: dict[int, int]) -> float:
    count = sum(star_counts.values())
    total = sum(stars * n for stars, n in star_counts.items())
    return (PRIOR_WEIGHT * PRIOR_MEAN + total) / (PRIOR_WEIGHT + count)


async def _score(session: AsyncSession, subject_kind: str, subject_id: uuid.UUID) -> Score:
    star_counts = await repository.star_counts(session, subject_kind, subject_id)
    outcomes = await repository.outcome_counts(session, subject_kind, subject_id)
    complaints = await repository.complaint_count(session, subject_kind, subject_id)
    count = sum(star_counts.values())
    average = sum(stars * n for stars, n in star_counts.items()) / count if count else None
    completed = outcomes.get(Outcome.completed, 0)
    no_shows = outcomes.get(Outcome.no_show, 0)
    return Score(
        bayesian=round(bayesian_average(star_counts), 3),
        average=round(average, 3) if average is not None else None,
        count=count,
        distribution={str(stars): star_counts.get(stars, 0) for stars in range(1, 6)},
        prior_mean=PRIOR_MEAN,
        prior_weight=PRIOR_WEIGHT,
        completed_bookings=completed,
        no_shows=no_shows,
        complaints=complaints,
        complaint_rate=round(complaints / completed, 4) if completed else None,
        no_show_rate=round(no_shows / (completed + no_shows), 4) if completed + no_shows else None,
    )


async def score_of_provider(session: AsyncSession, provider_id: uuid.UUID) -> ProviderScore:
    score = await _score(session, "provider", provider_id)
    return ProviderScore(**score.model_dump(), provider_id=provider_id)


async def score_of_offering(session: AsyncSession, offering_id: uuid.UUID) -> OfferingScore:
    score = await _score(session, "offering", offering_id)
    provider_id = await repository.provider_of_offering(session, offering_id)
    return OfferingScore(**score.model_dump(), offering_id=offering_id, provider_id=provider_id)


# ------------------------------------------------------------------ facts from bookings


async def record_outcome(session: AsyncSession, event: BookingChanged, outcome: Outcome) -> bool:
    """Count a completed or no-show booking once, whatever the redeliveries."""
    inserted = await repository.insert_outcome_if_absent(
        session,
        booking_id=event.booking_id,
        provider_id=event.provider_id,
        offering_id=event.offering_id,
        resident_id=event.resident_id,
        outcome=outcome,
        occurred_at=event.occurred_at,
    )
    if inserted:
        await mark_changed(session, provider_id=event.provider_id, offering_id=event.offering_id, now=utcnow())
    return inserted


# ------------------------------------------------------------------ debounced score.updated


async def mark_changed(
    session: AsyncSession, *, provider_id: uuid.UUID | None, offering_id: uuid.UUID | None, now: datetime
) -> None:
    """Note that a provider's (and its offering's) score inputs changed; the publisher job will tell the others."""
    if provider_id is None:
        return
    await repository.bump_change(
        session, subject_kind="provider", subject_id=provider_id, provider_id=provider_id, now=now
    )
    if offering_id is not None:
        await repository.bump_change(
            session, subject_kind="offering", subject_id=offering_id, provider_id=provider_id, now=now
        )


async def publish_changed_scores(session: AsyncSession, *, settings: Settings, now: datetime | None = None) -> int:
    """Emit ``score.updated`` for every subject changed since its last event, unless that event is younger than
    the debounce interval (the subject then waits for a later pass). Returns the number of events."""
    now = now or utcnow()
    quiet_since = now - timedelta(seconds=settings.score_debounce_seconds)
    sent = 0
    for change in await repository.due_changes(session, quiet_since=quiet_since, limit=PUBLISH_BATCH):
        version = change.version
        if not await repository.mark_emitted(session, change, version=version, now=now):
            continue
        score = await _score(session, change.subject_kind, change.subject_id)
        await emit(
            session,
            ScoreUpdated(
                subject_kind="provider" if change.subject_kind == "provider" else "offering",
                subject_id=change.subject_id,
                provider_id=change.provider_id,
                score=score.bayesian,
                rating_count=score.count,
                complaint_rate=score.complaint_rate or 0.0,
                no_show_rate=score.no_show_rate or 0.0,
            ),
        )
        sent += 1
    return sent


async def run_score_publisher(runtime: Runtime) -> None:
    """The background job: publish changed scores, then wait one debounce interval."""
    settings = cast(Settings, runtime.settings)
    while runtime.running:
        async with runtime.sessionmaker() as session, session.begin():
            sent = await publish_changed_scores(session, settings=settings)
        if sent:
            runtime.wake_relay()
            log.info("scores published", count=sent)
        await runtime.sleep(settings.score_debounce_seconds)
