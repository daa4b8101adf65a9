"""Provider scores.

The score to rank providers by is a Bayesian average: every provider starts with ``PRIOR_WEIGHT`` imaginary
ratings of ``PRIOR_MEAN`` stars, and real ratings outweigh them as they come in:

    bayesian = (PRIOR_WEIGHT * PRIOR_MEAN + sum of stars) / (PRIOR_WEIGHT + count)

So a new provider with a single 5-star rating scores 4.17, not 5.0, and does not outrank one with two hundred
ratings averaging 4.8. The prior mean of 4.0 is a typical rating of community services (most are 4 or 5 stars);
a weight of 5 lets a provider's own ratings dominate after a couple of weeks of service.
"""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from feedback.scores import repository
from feedback.scores.schemas import ProviderScore

PRIOR_MEAN = 4.0
PRIOR_WEIGHT = 5


def bayesian_average(star_counts: dict[int, int]) -> float:
    count = sum(star_counts.values())
    total = sum(stars * n for stars, n in star_counts.items())
    return (PRIOR_WEIGHT * PRIOR_MEAN + total) / (PRIOR_WEIGHT + count)


async def score_of_provider(session: AsyncSession, provider_id: uuid.UUID) -> ProviderScore:
    star_counts = await repository.star_counts_of_provider(session, provider_id)
    count = sum(star_counts.values())
    average = sum(stars * n for stars, n in star_counts.items()) / count if count else None
    return ProviderScore(
        provider_id=provider_id,
        bayesian=round(bayesian_average(star_counts), 3),
        average=round(average, 3) if average is not None else None,
        count=count,
        distribution={str(stars): star_counts.get(stars, 0) for stars in range(1, 6)},
        prior_mean=PRIOR_MEAN,
        prior_weight=PRIOR_WEIGHT,
    )
