import uuid
from datetime import datetime
from typing import Annotated, ClassVar, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from registry.offerings.schemas import WeeklyRuleIn, rules_do_not_overlap
from registry.places.models import StreetKind
from registry.places.types import CommunityCode, CommunityCodes, Latitude, Longitude, StreetCode, distinct
from service_kit.events.contracts import WeeklyRule

PlaceName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
CenterName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Facility = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
Facilities = Annotated[list[Facility], Field(max_length=50), AfterValidator(distinct)]
Hours = Annotated[list[WeeklyRuleIn], Field(max_length=50), AfterValidator(rules_do_not_overlap)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _NoNulls(_Strict):
    """An update: fields left out stay as they are; the listed ones cannot be cleared."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _required_fields_not_cleared(self) -> Self:
        cleared = [n for n in sorted(self.model_fields_set) if getattr(self, n) is None and n not in self.nullable]
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be null")
        return self

    def changes(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude_unset=True)


class StreetCreate(_Strict):
    code: StreetCode = Field(examples=["gongchen"])
    name_zh: PlaceName = Field(examples=["拱辰街道"])
    name_en: PlaceName | None = None
    kind: StreetKind
    lat: Latitude
    lng: Longitude


class StreetUpdate(_NoNulls):
    nullable: ClassVar[frozenset[str]] = frozenset({"name_en"})

    name_zh: PlaceName | None = None
    name_en: PlaceName | None = None
    kind: StreetKind | None = None
    lat: Latitude | None = None
    lng: Longitude | None = None


class Street(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name_zh: str
    name_en: str | None
    kind: StreetKind
    lat: float
    lng: float
    updated_at: datetime


class CommunityCreate(_Strict):
    code: CommunityCode = Field(examples=["gongchen.shidai_jiahe"])
    street_code: StreetCode = Field(examples=["gongchen"])
    name_zh: PlaceName = Field(examples=["时代家和社区"])
    name_en: PlaceName | None = None
    lat: Latitude
    lng: Longitude


class CommunityUpdate(_NoNulls):
    nullable: ClassVar[frozenset[str]] = frozenset({"name_en"})

    name_zh: PlaceName | None = None
    name_en: PlaceName | None = None
    lat: Latitude | None = None
    lng: Longitude | None = None


class Community(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    street_code: str
    name_zh: str
    name_en: str | None
    lat: float
    lng: float
    updated_at: datetime


class ServiceCenterCreate(_Strict):
    name_zh: CenterName = Field(examples=["时代家和社区服务中心"])
    name_en: CenterName | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    lat: Latitude
    lng: Longitude
    operator_id: uuid.UUID | None = None
    hours: Hours = Field(default_factory=list)
    facilities: Facilities = Field(default_factory=list, examples=[["餐厅", "康复室", "阅览室"]])
    communities: CommunityCodes = Field(default_factory=list, examples=[["gongchen.shidai_jiahe"]])


class ServiceCenterUpdate(_NoNulls):
    nullable: ClassVar[frozenset[str]] = frozenset({"name_en", "address", "operator_id"})

    name_zh: CenterName | None = None
    name_en: CenterName | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    lat: Latitude | None = None
    lng: Longitude | None = None
    operator_id: uuid.UUID | None = None
    hours: Hours | None = None
    facilities: Facilities | None = None
    communities: CommunityCodes | None = None


class ServiceCenter(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name_zh: str
    name_en: str | None
    address: str | None
    lat: float
    lng: float
    operator_id: uuid.UUID | None
    hours: list[WeeklyRule]
    facilities: list[str]
    communities: list[str]
    created_at: datetime
    updated_at: datetime
