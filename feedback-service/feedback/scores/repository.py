"""Every SQL statement of the scores module: aggregates over ratings, booking outcomes and complaints."""

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.complaints.models import Complaint
from feedback.ratings.models import Rating
from feedback.scores.models import BookingOutcome, Outcome, ScoreChange
from service_kit.db import upsert


def _column(subject_kind: str, model: Any) -> Any:
    return model.provider_id if subject_kind == "provider" else model.offering_id


async def star_counts(session: AsyncSession, subject_kind: str, subject_id: uuid.UUID) -> dict[int, int]:
    rows = await session.execute(
        select(Rating.stars, func.count()).where(_column(subject_kind, Rating) == subject_id).group_by(Rating.stars)
    )
    return {int(stars): int(count) for stars, count in rows}


# Kept for callers of the first slice.
async def star_counts_of_provider(session: AsyncSession, provider_id: uuid.UUID) -> dict[int, int]:
    return await star_counts(session, "provider", provider_id)


async def outcome_counts(session: AsyncSession, subject_kind: str, subject_id: uuid.UUID) -> dict[Outcome, int]:
    rows = await session.execute(
        select(BookingOutcome.outcome, func.count())
        .where(_column(subject_kind, BookingOutcome) == subject_id)
        .group_by(BookingOutcome.outcome)
    )
    return {Outcome(outcome): int(n) for outcome, n in rows}


async def complaint_count(session: AsyncSession, subject_kind: str, subject_id: uuid.UUID) -> int:
    result = await session.execute(
        select(func.count()).select_from(Complaint).where(_column(subject_kind, Complaint) == subject_id)
    )
    return int(result.scalar_one())


async def provider_of_offering(session: AsyncSession, offering_id: uuid.UUID) -> uuid.UUID | None:
    result = await session.execute(
        select(BookingOutcome.provider_id).where(BookingOutcome.offering_id == offering_id).limit(1)
    )
    found = result.scalar_one_or_none()
    if found is None:
        result = await session.execute(select(Rating.provider_id).where(Rating.offering_id == offering_id).limit(1))
        found = result.scalar_one_or_none()
    return found


async def insert_outcome_if_absent(session: AsyncSession, **values: Any) -> bool:
    statement = upsert(session, BookingOutcome).values(**values).on_conflict_do_nothing(index_elements=["booking_id"])
    result = cast(CursorResult[Any], await session.execute(statement))
    return result.rowcount == 1


async def bump_change(
    session: AsyncSession, *, subject_kind: str, subject_id: uuid.UUID, provider_id: uuid.UUID, now: datetime
) -> None:
    insert = upsert(session, ScoreChange).values(
        subject_kind=subject_kind,
        subject_id=subject_id,
        provider_id=provider_id,
        version=1,
        emitted_version=0,
        changed_at=now,
    )
    statement = insert.on_conflict_do_update(
        index_elements=["subject_kind", "subject_id"],
        set_={"version": ScoreChange.version + 1, "changed_at": now},
    )
    await session.execute(statement)


async def due_changes(session: AsyncSession, *, quiet_since: datetime, limit: int) -> list[ScoreChange]:
    """Subjects changed since their last event, whose last event is older than ``quiet_since``."""
    rows = await session.execute(
        select(ScoreChange)
        .where(
            ScoreChange.version > ScoreChange.emitted_version,
            or_(ScoreChange.emitted_at.is_(None), ScoreChange.emitted_at <= quiet_since),
        )
        .order_by(ScoreChange.changed_at)
        .limit(limit)
    )
    return list(rows.scalars())


async def mark_emitted(session: AsyncSession, change: ScoreChange, *, version: int, now: datetime) -> bool:
    """Guarded on the previous emission, so two publishers cannot both send the same subject's event."""
    previous = (
        ScoreChange.emitted_at.is_(None) if change.emitted_at is None else ScoreChange.emitted_at == change.emitted_at
    )
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(ScoreChange)
            .where(
                and_(
                    ScoreChange.subject_kind == change.subject_kind,
                    ScoreChange.subject_id == change.subject_id,
                    previous,
                )
            )
            .values(emitted_version=version, emitted_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount == 1
