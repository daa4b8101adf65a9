"""A provider's score is a Bayesian average of its ratings, not their raw mean.

Every provider starts as if it already had ``PRIOR_WEIGHT`` ratings of ``PRIOR_MEAN`` stars, so two
five-star ratings do not lift a new provider above one with two hundred ratings averaging 4.8, and a single
bad rating does not sink it. As real ratings accumulate, they outweigh the prior.

    score = (PRIOR_WEIGHT * PRIOR_MEAN + rating_sum) / (PRIOR_WEIGHT + rating_count)
"""

PRIOR_MEAN = 4.0
PRIOR_WEIGHT = 5


def bayesian_score(rating_sum: int, rating_count: int) -> float:
    return (PRIOR_WEIGHT * PRIOR_MEAN + rating_sum) / (PRIOR_WEIGHT + rating_count)


def average(rating_sum: int, rating_count: int) -> float | None:
    return rating_sum / rating_count if rating_count else None
