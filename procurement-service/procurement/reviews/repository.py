"""Every SQL statement about reviewers' assignments, declarations and score sheets."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.reviews.models import ReviewAssignment


async def assignment_of(session: AsyncSession, call_id: uuid.UUID, reviewer_subject: str) -> ReviewAssignment | None:
    """The reviewer's assignment to the call, if any."""
    result = await session.execute(
        select(ReviewAssignment).where(
            ReviewAssignment.call_id == call_id, ReviewAssignment.reviewer_subject == reviewer_subject
        )
    )
    return result.scalar_one_or_none()
