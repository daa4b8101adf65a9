import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from feedback.ratings.models import InvitationStatus
from feedback.ratings.models import Rating as RatingModel
from feedback.ratings.models import RatingInvitation as InvitationModel

# A JSON number 1–5: "5", 4.5 and true are refused rather than coerced.
Stars = Annotated[int, Field(strict=True, ge=1, le=5)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]

MAX_TAGS = 10
MAX_COMMENT = 1000


class Dimensions(BaseModel):
    """Optional detail beside the stars; each one 1–5 when given."""

    model_config = ConfigDict(extra="forbid")

    punctuality: Stars | None = None
    attitude: Stars | None = None
    professionalism: Stars | None = None
    value: Stars | None = None


class RatingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    booking_id: uuid.UUID
    stars: Stars
    dimensions: Dimensions = Field(default_factory=Dimensions)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_COMMENT)] | None = None


class RatingUpdate(BaseModel):
    """An edit within 7 days of rating: only the fields sent change (``comment: null`` removes the comment)."""

    model_config = ConfigDict(extra="forbid")

    stars: Stars | None = None
    dimensions: Dimensions | None = None
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_COMMENT)] | None = None


class PublicRating(BaseModel):
    """What anyone may read: no resident, no booking."""

    id: uuid.UUID
    provider_id: uuid.UUID
    offering_id: uuid.UUID
    stars: int
    dimensions: Dimensions
    tags: list[str]
    comment: str | None
    submitted_at: datetime
    edited_at: datetime | None = None

    @classmethod
    def from_model(cls, rating: RatingModel) -> "PublicRating":
        return cls(
            id=rating.id,
            provider_id=rating.provider_id,
            offering_id=rating.offering_id,
            stars=rating.stars,
            dimensions=_dimensions(rating),
            tags=list(rating.tags),
            comment=rating.comment,
            submitted_at=rating.created_at,
            edited_at=rating.updated_at if rating.updated_at != rating.created_at else None,
        )


class Rating(PublicRating):
    """The full record, for the resident who rated and for staff."""

    booking_id: uuid.UUID
    resident_id: uuid.UUID
    submitted_by: str
    on_behalf_of: uuid.UUID | None

    @classmethod
    def from_model(cls, rating: RatingModel) -> "Rating":
        public = PublicRating.from_model(rating)
        return cls(
            **public.model_dump(),
            booking_id=rating.booking_id,
            resident_id=rating.resident_id,
            submitted_by=rating.submitted_by,
            on_behalf_of=rating.on_behalf_of,
        )


def _dimensions(rating: RatingModel) -> Dimensions:
    return Dimensions(
        punctuality=rating.punctuality,
        attitude=rating.attitude,
        professionalism=rating.professionalism,
        value=rating.value,
    )


class RatingInvitation(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    booking_id: uuid.UUID
    resident_id: uuid.UUID
    provider_id: uuid.UUID
    offering_id: uuid.UUID
    completed_at: datetime
    status: InvitationStatus
    created_at: datetime

    @classmethod
    def from_model(cls, invitation: InvitationModel) -> "RatingInvitation":
        return cls.model_validate(invitation)
