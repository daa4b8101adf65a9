"""Every SQL statement of the scores module: aggregates over the ratings table."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.ratings.models import Rating


async def star_counts_of_provider(session: AsyncSession, provider_id: uuid.UUID) -> dict[int, int]:
    rows = await session.execute(
        select(Rating.stars, func.count()).where(Rating.provider_id == provider_id).group_by(Rating.stars)
    )
    return {int(stars): int(count) for stars, count in rows}
