"""A provider's past performance as reviewers and the public see it. Money is integer fen."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field


class Acceptance(BaseModel):
    result: str = Field(description="passed, conditional (限期整改) or failed: the latest acceptance decision.")
    attempt: int
    decided_at: datetime


class PastContract(BaseModel):
    contract_id: uuid.UUID
    title: str
    status: str = Field(description="active or terminated.")
    procurement_method: str
    start_date: date
    end_date: date
    amount_fen: int
    quota: int = Field(description="How many services the contract pays for.")
    verified_deliveries: int = Field(description="Deliveries verified and counted against the contract.")
    acceptance: Acceptance | None
    evaluation_score: float | None = Field(description="The finalized evaluation's combined score (0–100).")
    supervision_records: int
    supervision_faults: int = Field(description="Supervision records that required rectification or found it poor.")
    complaints: int = Field(description="Residents' complaints linked to the contract.")
    open_complaints: int


class Satisfaction(BaseModel):
    score: float = Field(description="Residents' satisfaction, 0–5 stars (Bayesian).")
    rating_count: int


class HistoricalResult(BaseModel):
    reference: str | None
    year: int
    title: str
    street_code: str
    amount_fen: int
    result: str = Field(description="excellent, good, qualified or unqualified.")
    score: int | None


class SanctionRecord(BaseModel):
    cause: str
    measure: str
    status: str = Field(description="active, served or lifted.")
    imposed_at: datetime
    ended_at: datetime | None


class Totals(BaseModel):
    contracts: int
    accepted: int = Field(description="Contracts whose latest acceptance passed.")
    failed: int = Field(description="Contracts whose latest acceptance failed.")
    verified_deliveries: int
    complaints: int
    open_complaints: int
    historical_projects: int
    historical_excellent_or_good: int


class PastPerformance(BaseModel):
    """Everything procurement knows of how a provider delivered before: its contracts (deliveries, acceptance,
    evaluation, supervision, complaints), residents' satisfaction, its historical projects and sanctions."""

    provider_id: uuid.UUID
    provider_name: str | None
    totals: Totals
    satisfaction: Satisfaction | None
    contracts: list[PastContract]
    historical_projects: list[HistoricalResult]
    sanctions: list[SanctionRecord]


class PublicContract(BaseModel):
    contract_id: uuid.UUID
    title: str
    start_date: date
    end_date: date
    amount_fen: int
    verified_deliveries: int
    acceptance_result: str
    accepted_at: datetime
    evaluation_score: float | None


class Standing(BaseModel):
    """A provider's public record (公开信誉): the contracts it delivered and passed acceptance for, its historical
    projects' results and residents' satisfaction, beside any sanction. Nothing personal."""

    provider_id: uuid.UUID
    provider_name: str | None
    accepted_contracts: list[PublicContract]
    historical_projects: list[HistoricalResult]
    satisfaction: Satisfaction | None
    sanctions: list[SanctionRecord]
    sanctioned_now: bool
