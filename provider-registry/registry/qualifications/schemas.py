import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from service_kit import phones

QualificationKind = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$"), Field(examples=["elderly_care"])
]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Number = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Day = Annotated[date, Field(ge=date(1990, 1, 1), le=date(2100, 12, 31))]
Phone = Annotated[str, StringConstraints(max_length=32), AfterValidator(phones.e164)]


class QualificationStatus(StrEnum):
    valid = "valid"
    expired = "expired"
    not_yet_valid = "not_yet_valid"


class QualificationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: QualificationKind
    name_zh: Text200 = Field(examples=["养老机构备案回执"])
    issuer: Text200 = Field(examples=["北京市房山区民政局"])
    number: Number
    valid_from: Day
    valid_until: Day

    @model_validator(mode="after")
    def _from_before_until(self) -> Self:
        if self.valid_from > self.valid_until:
            raise ValueError("valid_from must not be after valid_until")
        return self


class Qualification(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    kind: str
    name_zh: str
    issuer: str
    number: str
    valid_from: date
    valid_until: date
    status: QualificationStatus
    created_at: datetime


class Certification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text200 = Field(examples=["养老护理员（四级）"])
    number: Number | None = None
    issuer: Text200 | None = None
    valid_until: Day | None = None


Certifications = Annotated[list[Certification], Field(max_length=20)]
Role = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$"), Field(examples=["caregiver"])]


class StaffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    role: Role
    phone: Phone | None = None
    certifications: Certifications = Field(default_factory=list)


class StaffUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    phone: Phone | None = None
    certifications: Certifications | None = None
    active: bool | None = Field(default=None, strict=True)

    @model_validator(mode="after")
    def _not_cleared(self) -> Self:
        cleared = [
            n for n in ("role", "certifications", "active") if n in self.model_fields_set and getattr(self, n) is None
        ]
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be null")
        return self


class StaffMember(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    role: str
    phone: str | None = Field(description="Masked (+86138****0001) unless the reader is the provider or an official.")
    certifications: list[Certification]
    active: bool
    created_at: datetime
    updated_at: datetime
