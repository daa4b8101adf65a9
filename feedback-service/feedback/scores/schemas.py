import uuid

from pydantic import BaseModel, Field


class ProviderScore(BaseModel):
    provider_id: uuid.UUID
    bayesian: float = Field(description="The score to rank by: the average pulled towards the prior mean")
    average: float | None = Field(description="The raw mean of the stars; null before the first rating")
    count: int
    distribution: dict[str, int] = Field(description='Ratings per star, "1" to "5"')
    prior_mean: float
    prior_weight: int
