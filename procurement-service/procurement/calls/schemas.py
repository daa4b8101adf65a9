"""What clients send and receive about calls for proposals and applications. Money is integer fen."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from procurement.calls.models import ApplicationStatus, CallStatus
from procurement.contracts.schemas import MAX_FEN, MAX_QUOTA
from procurement.documents.schemas import PublicDocument
from service_kit.timeutil import Instant

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[a-z0-9_.]+$")]
Fen = Annotated[int, Field(strict=True, gt=0, le=MAX_FEN, description="An amount in fen (1/100 yuan).")]

Direction = Literal[
    "special_groups",  # 特殊群体帮扶
    "volunteer_services",  # 志愿服务
    "cultural_heritage",  # 文化传承
    "psychological_counseling",  # 心理疏导
    "elderly_care",  # 养老服务
    "children",  # 儿童关爱
    "green_living",  # 绿色环保
    "community_governance",  # 社区治理
]
ProviderKind = Literal["public_welfare", "commercial", "startup"]


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code = Field(description="e.g. feasibility")
    name: Short = Field(description="e.g. 项目可行性")
    weight: int = Field(strict=True, ge=1, le=100, description="Weights of a call's criteria sum to 100.")


class CallCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Text
    directions: list[Direction] = Field(min_length=1, max_length=8)
    budget_cap_fen: Fen = Field(description="The most one application may request.")
    fund_id: uuid.UUID
    need_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    eligible_kinds: list[ProviderKind] = Field(
        default_factory=list, max_length=3, description="Provider kinds admitted; empty admits every kind."
    )
    criteria: list[Criterion] = Field(min_length=1, max_length=20)
    deadline: Instant
    street_code: Code | None = Field(
        default=None,
        description="The street the call serves (registry street code); a street-scoped official's own by "
        "default. None: the district's.",
    )


class Call(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    description: str
    directions: list[str]
    budget_cap_fen: int
    fund_id: uuid.UUID
    need_ids: list[uuid.UUID]
    eligible_kinds: list[str]
    criteria: list[Criterion]
    deadline: datetime
    street_code: str | None = None
    status: CallStatus
    published_at: datetime | None
    closed_at: datetime | None
    reviewed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class Deliverable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offering_id: uuid.UUID | None = Field(default=None, description="A published offering of the provider, or …")
    service_type: Code | None = Field(default=None, description="… a category of service, e.g. elderly.meal_table.")
    quantity: int = Field(strict=True, ge=1, le=MAX_QUOTA)
    target_group: Short
    period_start: date
    period_end: date


class Kpi(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Short = Field(description="e.g. 服务满意度")
    target: Short = Field(description="e.g. ≥ 90%")


class ApplicationCreate(BaseModel):
    """Submitted by a provider's admin for their own provider (the token's ``provider_id``)."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    proposal: Text
    budget_request_fen: Fen
    deliverables: list[Deliverable] = Field(min_length=1, max_length=50)
    kpis: list[Kpi] = Field(min_length=1, max_length=50)


class Application(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    call_id: uuid.UUID
    provider_id: uuid.UUID
    title: str
    proposal: str
    budget_request_fen: int
    deliverables: list[Deliverable]
    kpis: list[Kpi]
    status: ApplicationStatus
    submitted_at: datetime
    withdrawn_at: datetime | None
    score: float | None = Field(description="The aggregate review score (0–100), once the review has closed.")
    reviewer_count: int | None
    rank: int | None
    approved_amount_fen: int | None
    approved_at: datetime | None


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_fen: Fen | None = Field(default=None, description="Defaults to the budget requested; never more.")


class CallDocument(PublicDocument):
    """A call's document (征集公告附件: terms, forms): public as the call is, at the URL OCDS publishes."""
