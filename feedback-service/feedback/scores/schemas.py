import uuid

from pydantic import BaseModel, Field


class Score(BaseModel):
    bayesian: float = Field(description="The score to rank by: the average pulled towards the prior mean")
    average: float | None = Field(description="The raw mean of the stars; null before the first rating")
    count: int
    distribution: dict[str, int] = Field(description='Ratings per star, "1" to "5"')
    prior_mean: float
    prior_weight: int
    completed_bookings: int
    no_shows: int
    complaints: int
    complaint_rate: float | None = Field(description="Complaints per completed booking; null before the first one")
    no_show_rate: float | None = Field(description="No-shows per ended booking (completed or no-show)")


class ProviderScore(Score):
    provider_id: uuid.UUID


class OfferingScore(Score):
    offering_id: uuid.UUID
    provider_id: uuid.UUID | None
