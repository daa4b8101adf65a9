import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import uscc as uscc_number

from registry.organizations.models import Organization as OrganizationModel
from registry.organizations.models import OrganizationKind, OrganizationStatus
from registry.organizations.models import OrganizationStatusChange as StatusChangeModel
from registry.organizations.scoring import average
from service_kit import phones

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class OrganizationCreate(BaseModel):
    """An application to become a Linli provider; an official verifies it."""

    model_config = ConfigDict(extra="forbid")

    name_zh: Name
    name_en: Name | None = None
    kind: OrganizationKind
    uscc: str = Field(max_length=40, description="Unified Social Credit Code (统一社会信用代码), 18 characters.")
    contact_phone: str | None = Field(default=None, max_length=32, description="The organization's service phone.")

    @field_validator("uscc")
    @classmethod
    def _valid_uscc(cls, value: str) -> str:
        try:
            return str(uscc_number.validate(uscc_number.compact(value)))
        except stdnum_exceptions.ValidationError as exc:
            raise ValueError(f"not a valid Unified Social Credit Code: {exc}") from exc

    @field_validator("contact_phone")
    @classmethod
    def _valid_phone(cls, value: str | None) -> str | None:
        return None if value is None else phones.e164(value)


class StatusChangeReason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class Score(BaseModel):
    """The provider's standing from residents' ratings: ``bayesian`` is the one to rank by (see scoring.py)."""

    bayesian: float
    average: float | None
    count: int


class Organization(BaseModel):
    id: uuid.UUID
    name_zh: str
    name_en: str | None
    kind: OrganizationKind
    uscc: str
    contact_phone: str | None
    status: OrganizationStatus
    has_government_contract: bool
    score: Score
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, org: OrganizationModel) -> "Organization":
        return cls(
            id=org.id,
            name_zh=org.name_zh,
            name_en=org.name_en,
            kind=org.kind,
            uscc=org.uscc,
            contact_phone=org.contact_phone,
            status=org.status,
            has_government_contract=org.has_government_contract,
            score=Score(
                bayesian=round(org.score, 4),
                average=_rounded(average(org.rating_sum, org.rating_count)),
                count=org.rating_count,
            ),
            created_at=org.created_at,
            updated_at=org.updated_at,
        )


def _rounded(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


class StatusChange(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    from_status: OrganizationStatus | None
    to_status: OrganizationStatus
    actor: str
    reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, change: StatusChangeModel) -> "StatusChange":
        return cls.model_validate(change)
