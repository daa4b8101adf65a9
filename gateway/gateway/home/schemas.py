from typing import Any, Literal

from pydantic import BaseModel, Field


class Unavailable(BaseModel):
    """This part's service is down or too slow right now; the other parts still answer."""

    status: Literal["unavailable"] = "unavailable"


class NearbyOfferings(BaseModel):
    status: Literal["ok"] = "ok"
    origin: dict[str, Any] = Field(description="Where the circle is drawn from (the registry's origin).")
    minutes: int
    items: list[dict[str, Any]] = Field(description="Offerings as the registry's circle search gives them.")
    total: int


class Listing(BaseModel):
    status: Literal["ok"] = "ok"
    items: list[dict[str, Any]] = Field(description="As the owning service lists them.")
    total: int


class Home(BaseModel):
    """Each part comes from its own service, fetched in parallel with the caller's token."""

    nearby_offerings: NearbyOfferings | Unavailable = Field(description="The registry's 15-minute circle search.")
    upcoming_bookings: Listing | Unavailable = Field(
        description="The caller's requested and confirmed bookings from today on (booking service), soonest first."
    )
    rating_invitations: Listing | Unavailable = Field(
        description="The caller's completed bookings waiting for a rating (feedback service)."
    )
