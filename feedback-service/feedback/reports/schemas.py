from enum import StrEnum

from pydantic import BaseModel, Field


class ComplaintsBy(StrEnum):
    provider = "provider"
    category = "category"
    severity = "severity"
    channel = "channel"
    month = "month"
    street = "street"


class RatingsBy(StrEnum):
    """No ``street``: a rating knows its booking, provider and offering but not the resident's community (the
    ``booking.completed`` event does not carry it), so ratings by street are left out rather than invented."""

    provider = "provider"
    offering = "offering"
    month = "month"


class ComplaintReportRow(BaseModel):
    key: str | None = Field(
        description="The provider id, category, severity, channel, month (YYYY-MM, Beijing time) or street; "
        "null: complaints without one (e.g. no street known)"
    )
    complaints: int
    open: int
    resolved: int = Field(description="Resolved or closed")
    escalated: int = Field(description="Complaints with at least one escalated breach")
    ack_attainment: float | None = Field(
        description="Acknowledged in time / complaints whose acknowledgement is done or due; null when none"
    )
    resolve_attainment: float | None = Field(
        description="Resolved in time / complaints whose resolution is done or due; null when none"
    )


class RatingReportRow(BaseModel):
    key: str
    ratings: int
    average: float
    low_ratings: int = Field(description="Ratings of 1 or 2 stars")


class NeedsBy(StrEnum):
    street = "street"
    community = "community"
    category = "category"


class NeedReportRow(BaseModel):
    key: str | None = Field(description="The street, community or category code; null: needs that name none")
    needs: int = Field(description="Needs and suggestions recorded under the key")
    top_category_code: str = Field(description="The category most often needed under the key (by=category: the key)")
    top_category_needs: int
