"""The figures officials read on the dashboard. Money is integer fen; scores are points out of 100."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Bucket(BaseModel):
    key: str = Field(description="A year, a direction, a street code or a provider kind; `unspecified` if unknown.")
    projects: int
    amount_fen: int
    historical_projects: int = Field(description="Of `projects`, those imported from before Linli.")
    historical_amount_fen: int


class Totals(BaseModel):
    projects: int
    amount_fen: int
    historical_projects: int
    historical_amount_fen: int
    current_projects: int = Field(description="Contracts signed on Linli (active or ended).")
    current_amount_fen: int


class FundYear(BaseModel):
    year: int
    funds: int
    budget_fen: int
    committed_fen: int = Field(
        description="Approved applications' amounts (立项) and approved supplements, less approved settlements' "
        "reductions and what terminated contracts gave back."
    )
    spent_fen: int = Field(description="Disbursed to providers (资金拨付).")
    contracted_fen: int = Field(
        description="Signed contracts drawn from the year's funds, at their current amount (a street's dashboard: "
        "its street's contracts; the funds themselves are the district's)."
    )


class Delivery(BaseModel):
    """What the signed contracts planned against what residents received (completed bookings)."""

    contracts: int
    contracted_fen: int
    planned_services: int = Field(description="Σ quota of the contracts' funded offerings.")
    planned_value_fen: int = Field(description="Σ quota × unit price.")
    delivered_services: int
    delivered_value_fen: int
    delivered_share: float | None = Field(description="delivered / planned services, 0–1; null without a plan.")
    disbursed_fen: int = Field(description="Paid to the providers so far, of `contracted_fen`.")


class Scores(BaseModel):
    review_average: float | None = Field(description="Experts' weighted score of approved applications (0–100).")
    reviewed_projects: int
    evaluation_average: float | None = Field(
        description="Final evaluations' combined score (purchaser, recipients, third party; 0–100)."
    )
    evaluated_projects: int
    historical_average: float | None = Field(description="Evaluation scores of historical projects (0–100).")
    historical_scored: int


class Sanctions(BaseModel):
    providers_sanctioned: int = Field(description="Providers currently under a sanction (优胜劣汰).")
    active_sanctions: int = Field(description="Sanctions procurement imposed that are still running.")
    by_cause: dict[str, int] = Field(description="Running sanctions by cause (failed acceptance, low final score).")


class Dashboard(BaseModel):
    year: int | None = Field(description="The year the figures are limited to; null for every year.")
    street_code: str | None = Field(
        default=None,
        description="The street the figures are limited to (a street-scoped official's); null for the district.",
    )
    totals: Totals
    by_year: list[Bucket]
    by_direction: list[Bucket]
    by_street: list[Bucket]
    by_provider_kind: list[Bucket]
    historical_results: list[Bucket] = Field(description="Historical projects by acceptance result (验收结果).")
    acceptance_results: list[Bucket] = Field(description="Signed contracts by their latest acceptance result.")
    funds: list[FundYear]
    delivery: Delivery
    scores: Scores
    sanctions: Sanctions
