from enum import StrEnum

from pydantic import BaseModel, Field


class ComplaintsBy(StrEnum):
    provider = "provider"
    category = "category"
    severity = "severity"
    channel = "channel"
    month = "month"


class RatingsBy(StrEnum):
    provider = "provider"
    offering = "offering"
    month = "month"


class ComplaintReportRow(BaseModel):
    key: str | None = Field(description="The provider id, category, severity, channel or month (YYYY-MM, Beijing time)")
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
