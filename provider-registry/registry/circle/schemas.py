import uuid
from enum import StrEnum

from pydantic import BaseModel, Field

from registry.offerings.models import OfferingMode
from registry.offerings.schemas import Offering


class Reach(StrEnum):
    walk = "walk"  # the resident walks to where it is given
    door_to_door = "door_to_door"  # the provider comes to the resident; the point lies in its service area


class Origin(BaseModel):
    lat: float
    lng: float
    community_code: str | None = Field(description="The community searched from, or the nearest to the point.")


class CircleOffering(BaseModel):
    offering: Offering
    provider_name: str
    provider_score: float
    reach: Reach
    distance_m: int = Field(description="Metres from the point to where it is given; 0 when it comes to the door.")
    walk_minutes: float = Field(description="Minutes on foot at the configured walking speed; 0 at the door.")


class CirclePage(BaseModel):
    origin: Origin
    minutes: int
    reach_m: int = Field(description="How far the resident walks in ``minutes`` at the configured speed.")
    items: list[CircleOffering]
    total: int
    limit: int
    offset: int


class NearestOffering(BaseModel):
    offering_id: uuid.UUID
    name_zh: str
    provider_id: uuid.UUID
    provider_name: str
    mode: OfferingMode
    reach: Reach
    distance_m: int
    walk_minutes: float


class CoverageRow(BaseModel):
    street_code: str
    community_code: str
    community_name_zh: str
    category_code: str
    category_name_zh: str
    within_circle: bool
    nearest: NearestOffering | None = Field(description="The nearest reachable offering, inside the circle or not.")


class StreetGaps(BaseModel):
    street_code: str
    street_name_zh: str
    communities: int
    categories: int
    gaps: int = Field(description="Community × category pairs with nothing inside the circle.")
