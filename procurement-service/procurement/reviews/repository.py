"""Every SQL statement about reviewers' assignments, declarations and score sheets."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.calls.models import Call
from procurement.reviews.models import ReviewAssignment, ReviewDeclaration, ReviewScore
from service_kit.pagination import fetch_page


async def assignment_of(session: AsyncSession, call_id: uuid.UUID, reviewer_subject: str) -> ReviewAssignment | None:
    """The reviewer's assignment to the call, if any."""
    result = await session.execute(
        select(ReviewAssignment).where(
            ReviewAssignment.call_id == call_id, ReviewAssignment.reviewer_subject == reviewer_subject
        )
    )
    return result.scalar_one_or_none()


async def save(session: AsyncSession, row: ReviewAssignment | ReviewDeclaration | ReviewScore) -> None:
    """Write a new row, or the changes to one read in this session."""
    session.add(row)
    await session.flush()


async def assignments_page(
    session: AsyncSession, call_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[ReviewAssignment], int]:
    """A page of the call's assignments, in the order they were made."""
    query = (
        select(ReviewAssignment)
        .where(ReviewAssignment.call_id == call_id)
        .order_by(ReviewAssignment.created_at, ReviewAssignment.id)
    )
    return await fetch_page(session, query, limit=limit, offset=offset)


async def declarations_by_assignment(
    session: AsyncSession, assignment_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How many declarations each of the assignments made (those that made any)."""
    rows = await session.execute(
        select(ReviewDeclaration.assignment_id, func.count())
        .where(ReviewDeclaration.assignment_id.in_(assignment_ids))
        .group_by(ReviewDeclaration.assignment_id)
    )
    return {assignment_id: int(count) for assignment_id, count in rows.all()}


async def sheets_by_assignment(session: AsyncSession, assignment_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many score sheets each of the assignments filled (those that filled any)."""
    rows = await session.execute(
        select(ReviewScore.assignment_id, func.count())
        .where(ReviewScore.assignment_id.in_(assignment_ids))
        .group_by(ReviewScore.assignment_id)
    )
    return {assignment_id: int(count) for assignment_id, count in rows.all()}


async def assignments_of_reviewer(
    session: AsyncSession, reviewer_subject: str, *, limit: int, offset: int
) -> tuple[list[tuple[ReviewAssignment, Call]], int]:
    """A page of the reviewer's assignments with their calls, the latest deadline first."""
    condition = ReviewAssignment.reviewer_subject == reviewer_subject
    total = await session.scalar(select(func.count()).select_from(ReviewAssignment).where(condition))
    rows = await session.execute(
        select(ReviewAssignment, Call)
        .join(Call, Call.id == ReviewAssignment.call_id)
        .where(condition)
        .order_by(Call.deadline.desc(), ReviewAssignment.id)
        .limit(limit)
        .offset(offset)
    )
    return [(assignment, call) for assignment, call in rows.all()], int(total or 0)


async def declaration(
    session: AsyncSession, assignment_id: uuid.UUID, application_id: uuid.UUID
) -> ReviewDeclaration | None:
    result = await session.execute(
        select(ReviewDeclaration).where(
            ReviewDeclaration.assignment_id == assignment_id, ReviewDeclaration.application_id == application_id
        )
    )
    return result.scalar_one_or_none()


async def sheet(session: AsyncSession, assignment_id: uuid.UUID, application_id: uuid.UUID) -> ReviewScore | None:
    result = await session.execute(
        select(ReviewScore).where(
            ReviewScore.assignment_id == assignment_id, ReviewScore.application_id == application_id
        )
    )
    return result.scalar_one_or_none()


async def sheets_of(session: AsyncSession, application_id: uuid.UUID) -> list[tuple[ReviewScore, str]]:
    """Every sheet of the application with its reviewer's subject, by reviewer."""
    rows = await session.execute(
        select(ReviewScore, ReviewAssignment.reviewer_subject)
        .join(ReviewAssignment, ReviewAssignment.id == ReviewScore.assignment_id)
        .where(ReviewScore.application_id == application_id)
        .order_by(ReviewAssignment.reviewer_subject)
    )
    return [(row, subject) for row, subject in rows.all()]


async def weighted_scores(session: AsyncSession, application_ids: Sequence[uuid.UUID]) -> list[tuple[uuid.UUID, int]]:
    """``(application, weighted score in hundredths)`` of every sheet of the applications."""
    rows = await session.execute(
        select(ReviewScore.application_id, ReviewScore.weighted_centi).where(
            ReviewScore.application_id.in_(application_ids)
        )
    )
    return [(application_id, int(weighted)) for application_id, weighted in rows.all()]
