import itertools
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from registry.offerings.models import DOOR_TO_DOOR_BANDS, OfferingMode, OfferingStatus
from registry.places.types import CommunityCodes, Latitude, Longitude
from service_kit.events.contracts import ScheduleException, WeeklyRule

HOUR_MINUTE = r"^([01]\d|2[0-3]):[0-5]\d$"
HOUR_MINUTE_OR_MIDNIGHT = r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$"
MAX_PRICE_FEN = 100_000_000  # 1,000,000 yuan: far above any community service, far below any integer limit.

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
CategoryCode = Annotated[str, StringConstraints(min_length=1, max_length=64)]
TargetGroup = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Eligibility = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=1000),
    Field(
        description="Who the service is for, in the provider's words (HSDS `eligibility_description`).",
        examples=["房山区户籍或常住的80岁以上老人、独居老人，持老年卡"],
    ),
]
RequiredDocument = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Price = Annotated[int, Field(ge=0, le=MAX_PRICE_FEN, strict=True, description="Price per booking in fen (分).")]
Duration = Annotated[int, Field(ge=5, le=1440, strict=True, description="Minutes one visit or slot takes.")]
Capacity = Annotated[int, Field(ge=1, le=10_000, strict=True, description="Bookings one slot can hold.")]
# A door-to-door visit reaches at most this far: the circle's prefilter searches this far around a resident.
MAX_SERVICE_RADIUS_M = DOOR_TO_DOOR_BANDS[-1]
ServiceRadius = Annotated[
    int,
    Field(ge=50, le=MAX_SERVICE_RADIUS_M, strict=True, description="Metres around the location a visit reaches."),
]


class WeeklyRuleIn(WeeklyRule):
    """Open on ``weekday`` (0 = Monday) from ``start`` to ``end``, local time; ``start`` before ``end``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weekday: int = Field(ge=0, le=6, strict=True)

    @model_validator(mode="after")
    def _start_before_end(self) -> Self:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class ScheduleExceptionIn(ScheduleException):
    """A dated change: ``closed`` all day (no hours), or ``open`` from ``start`` to ``end``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str | None = Field(default=None, pattern=HOUR_MINUTE)
    end: str | None = Field(default=None, pattern=HOUR_MINUTE_OR_MIDNIGHT)
    reason: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _hours_match_kind(self) -> Self:
        if self.kind == "closed":
            if self.start is not None or self.end is not None:
                raise ValueError("a closed day has no hours")
        elif self.start is None or self.end is None:
            raise ValueError("an open day needs start and end")
        elif self.start >= self.end:
            raise ValueError("start must be before end")
        return self


def rules_do_not_overlap(rules: list[WeeklyRuleIn]) -> list[WeeklyRuleIn]:
    by_day: dict[int, list[WeeklyRuleIn]] = defaultdict(list)
    for rule in rules:
        by_day[rule.weekday].append(rule)
    for weekday, day in by_day.items():
        day.sort(key=lambda r: r.start)
        for earlier, later in itertools.pairwise(day):
            if later.start < earlier.end:
                raise ValueError(f"rules on weekday {weekday} overlap ({earlier.start}–{earlier.end}, {later.start})")
    return rules


def _one_exception_per_day(exceptions: list[ScheduleExceptionIn]) -> list[ScheduleExceptionIn]:
    days = [e.date for e in exceptions]
    if len(days) != len(set(days)):
        raise ValueError("at most one exception per date")
    return exceptions


def _distinct(groups: list[str]) -> list[str]:
    return list(dict.fromkeys(groups))


WeeklyRules = Annotated[list[WeeklyRuleIn], Field(max_length=100), AfterValidator(rules_do_not_overlap)]
Exceptions = Annotated[list[ScheduleExceptionIn], Field(max_length=400), AfterValidator(_one_exception_per_day)]
TargetGroups = Annotated[list[TargetGroup], Field(max_length=20), AfterValidator(_distinct)]
RequiredDocuments = Annotated[
    list[RequiredDocument],
    Field(
        max_length=10,
        description="What a resident brings to receive the service, one document each (HSDS `required_documents`).",
        examples=[["身份证", "北京通-养老助残卡"]],
    ),
    AfterValidator(_distinct),
]


class OfferingCreate(BaseModel):
    """A new offering, created as a draft; publishing it makes it bookable."""

    model_config = ConfigDict(extra="forbid")

    provider_id: uuid.UUID
    category_code: CategoryCode = Field(examples=["elderly.meal_table"])
    name_zh: Name
    name_en: Name | None = None
    description: Description | None = None
    mode: OfferingMode
    price_fen: Price
    duration_minutes: Duration
    capacity_per_slot: Capacity
    weekly_rules: WeeklyRules = Field(default_factory=list)
    exceptions: Exceptions = Field(default_factory=list)
    target_groups: TargetGroups = Field(default_factory=list, examples=[["80+", "living_alone"]])
    eligibility_description: Eligibility | None = None
    required_documents: RequiredDocuments = Field(default_factory=list)
    auto_confirm: bool = Field(default=False, strict=True)
    lat: Latitude | None = None
    lng: Longitude | None = None
    center_id: uuid.UUID | None = Field(default=None, description="Given at this service center (its location).")
    service_radius_m: ServiceRadius | None = None
    service_communities: CommunityCodes = Field(default_factory=list, examples=[["gongchen.shidai_jiahe"]])

    @model_validator(mode="after")
    def _one_location(self) -> Self:
        _check_location(self)
        return self


def _check_location(data: "OfferingCreate | OfferingUpdate") -> None:
    given = data.model_fields_set
    if ("lat" in given) != ("lng" in given) or (data.lat is None) != (data.lng is None):
        raise ValueError("lat and lng go together")
    if data.center_id is not None and data.lat is not None:
        raise ValueError("give either a center_id or lat/lng, not both")


class OfferingUpdate(BaseModel):
    """A change to an offering; fields left out stay as they are. The provider cannot be changed."""

    model_config = ConfigDict(extra="forbid")

    category_code: CategoryCode | None = None
    name_zh: Name | None = None
    name_en: Name | None = None
    description: Description | None = None
    mode: OfferingMode | None = None
    price_fen: Price | None = None
    duration_minutes: Duration | None = None
    capacity_per_slot: Capacity | None = None
    weekly_rules: WeeklyRules | None = None
    exceptions: Exceptions | None = None
    target_groups: TargetGroups | None = None
    eligibility_description: Eligibility | None = None
    required_documents: RequiredDocuments | None = None
    auto_confirm: bool | None = Field(default=None, strict=True)
    lat: Latitude | None = None
    lng: Longitude | None = None
    center_id: uuid.UUID | None = None
    service_radius_m: ServiceRadius | None = None
    service_communities: CommunityCodes | None = None

    @model_validator(mode="after")
    def _required_fields_not_cleared(self) -> Self:
        _check_location(self)
        cleared = [
            name for name in sorted(self.model_fields_set) if getattr(self, name) is None and name in _NULLABLE_NOT
        ]
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be null")
        return self

    def changes(self) -> dict[str, object]:
        """The columns this update sets, in their stored form."""
        return self.model_dump(mode="json", exclude_unset=True)


_NULLABLE_NOT = frozenset(OfferingUpdate.model_fields) - {
    "name_en",
    "description",
    "eligibility_description",
    "lat",
    "lng",
    "center_id",
    "service_radius_m",
}


class Offering(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    provider_id: uuid.UUID
    category_code: str
    name_zh: str
    name_en: str | None
    description: str | None
    mode: OfferingMode
    price_fen: int
    duration_minutes: int
    capacity_per_slot: int
    timezone: str
    weekly_rules: list[WeeklyRule]
    exceptions: list[ScheduleException]
    target_groups: list[str]
    eligibility_description: str | None
    required_documents: list[str]
    auto_confirm: bool
    status: OfferingStatus
    version: int = Field(description="Version of the last snapshot announced to other services (0: never).")
    published_at: datetime | None
    lat: float | None
    lng: float | None
    center_id: uuid.UUID | None
    service_radius_m: int | None
    service_communities: list[str]
    created_at: datetime
    updated_at: datetime
