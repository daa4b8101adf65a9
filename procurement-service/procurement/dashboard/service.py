"""The dashboard's figures: projects and money by year, direction, street and provider kind, delivery against
plan, scores and sanctions, over the contracts signed on Linli and the historical projects imported before it.

A signed contract counts as a project in the year its term starts; its direction is its call's first
direction, its street the contract's own (a street call's or a street official's award), else the one street its
call's needs name (``unspecified`` when none or several).

A street-scoped official's dashboard (``street_code``) counts only their street: its contracts, the reviews of
its calls, its historical projects, the sanctions its contracts caused. The funds are the district's and are shown
whole (every official reads them), with what the street's contracts drew from each year.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.dashboard import repository, schemas
from procurement.dashboard.repository import SignedContract
from procurement.deliverables import repository as deliverables_repository
from procurement.funds import service as funds_service
from procurement.history import service as history_service
from procurement.history.schemas import HistoricalProject

UNSPECIFIED = "unspecified"


@dataclass
class Count:
    """One bucket's running count: its projects and their amount, and of those the historical ones."""

    projects: int = 0
    amount_fen: int = 0
    historical_projects: int = 0
    historical_amount_fen: int = 0


class Tally:
    """Projects counted into buckets by a key (a year, a direction, a street, a provider kind, a result)."""

    def __init__(self) -> None:
        self.counts: dict[str, Count] = defaultdict(Count)

    def add(self, key: str | None, amount_fen: int, *, historical: bool) -> None:
        count = self.counts[key or UNSPECIFIED]
        count.projects += 1
        count.amount_fen += amount_fen
        if historical:
            count.historical_projects += 1
            count.historical_amount_fen += amount_fen

    def buckets(self, *, by_key: bool = False) -> list[schemas.Bucket]:
        """The buckets, by key or the largest amount first."""
        items = [schemas.Bucket(key=key, **asdict(count)) for key, count in self.counts.items()]
        return sorted(items, key=(lambda b: b.key) if by_key else (lambda b: (-b.amount_fen, b.key)))


@dataclass
class Breakdown:
    """The projects, historical and signed on Linli, counted by year, direction, street and provider kind; the
    historical ones also by their recorded result."""

    by_year: Tally = field(default_factory=Tally)
    by_direction: Tally = field(default_factory=Tally)
    by_street: Tally = field(default_factory=Tally)
    by_kind: Tally = field(default_factory=Tally)
    historical_results: Tally = field(default_factory=Tally)


def _average(scores: Iterable[float]) -> float | None:
    values = list(scores)
    return round(sum(values) / len(values), 2) if values else None


async def dashboard(session: AsyncSession, *, year: int | None, street_code: str | None = None) -> schemas.Dashboard:
    historical: list[HistoricalProject] = await history_service.projects(session, year=year, street_code=street_code)
    contracts = await repository.signed_contracts(session, street_code=street_code)
    if year is not None:
        contracts = [c for c in contracts if c.year == year]
    breakdown = await _breakdown(session, historical, contracts)
    return schemas.Dashboard(
        year=year,
        street_code=street_code,
        totals=_totals(historical, contracts),
        by_year=breakdown.by_year.buckets(by_key=True),
        by_direction=breakdown.by_direction.buckets(),
        by_street=breakdown.by_street.buckets(),
        by_provider_kind=breakdown.by_kind.buckets(),
        historical_results=breakdown.historical_results.buckets(),
        acceptance_results=(await _acceptance_results(session, contracts)).buckets(),
        funds=await _funds(session, contracts, year=year),
        delivery=await _delivery(session, contracts),
        scores=await _scores(session, historical, contracts, year=year, street_code=street_code),
        sanctions=await _sanctions(session, street_code=street_code),
    )


async def _breakdown(
    session: AsyncSession, historical: Sequence[HistoricalProject], contracts: Sequence[SignedContract]
) -> Breakdown:
    breakdown = Breakdown()
    for project in historical:
        breakdown.by_year.add(str(project.year), project.amount_fen, historical=True)
        breakdown.by_direction.add(project.direction, project.amount_fen, historical=True)
        breakdown.by_street.add(project.street_code, project.amount_fen, historical=True)
        breakdown.by_kind.add(project.provider.kind, project.amount_fen, historical=True)
        breakdown.historical_results.add(project.result, project.amount_fen, historical=True)
    streets = await repository.street_of_needs(session, (n for c in contracts for n in c.need_ids))
    for contract in contracts:
        # The contract's own street, else the one street its call's needs name.
        named = {streets.get(str(n)) for n in contract.need_ids} - {None}
        street = contract.street_code or (named.pop() if len(named) == 1 else None)
        direction = contract.directions[0] if contract.directions else None
        breakdown.by_year.add(str(contract.year), contract.amount_fen, historical=False)
        breakdown.by_direction.add(direction, contract.amount_fen, historical=False)
        breakdown.by_street.add(street, contract.amount_fen, historical=False)
        breakdown.by_kind.add(contract.provider_kind, contract.amount_fen, historical=False)
    return breakdown


def _totals(historical: Sequence[HistoricalProject], contracts: Sequence[SignedContract]) -> schemas.Totals:
    historical_fen = sum(p.amount_fen for p in historical)
    current_fen = sum(c.amount_fen for c in contracts)
    return schemas.Totals(
        projects=len(historical) + len(contracts),
        amount_fen=historical_fen + current_fen,
        historical_projects=len(historical),
        historical_amount_fen=historical_fen,
        current_projects=len(contracts),
        current_amount_fen=current_fen,
    )


async def _funds(
    session: AsyncSession, contracts: Sequence[SignedContract], *, year: int | None
) -> list[schemas.FundYear]:
    """The district's funds by year (of ``year`` only, when given), with what the contracts drew from each."""
    contracted_by_fund_year: dict[int, int] = defaultdict(int)
    for contract in contracts:
        if contract.fund_year is not None:
            contracted_by_fund_year[contract.fund_year] += contract.amount_fen
    return [
        schemas.FundYear(
            year=totals.year,
            funds=totals.funds,
            budget_fen=totals.budget_fen,
            committed_fen=totals.committed_fen,
            spent_fen=totals.spent_fen,
            contracted_fen=contracted_by_fund_year.get(totals.year, 0),
        )
        for totals in await funds_service.totals_by_year(session)
        if year is None or totals.year == year
    ]


async def _delivery(session: AsyncSession, contracts: Sequence[SignedContract]) -> schemas.Delivery:
    contract_ids = [c.id for c in contracts]
    planned, planned_value = await repository.planned_services(session, contract_ids)
    delivered = (await deliverables_repository.totals_by_offering(session, contract_ids)).values()
    delivered_count = sum(count for count, _ in delivered)
    return schemas.Delivery(
        contracts=len(contracts),
        contracted_fen=sum(c.amount_fen for c in contracts),
        planned_services=planned,
        planned_value_fen=planned_value,
        delivered_services=delivered_count,
        delivered_value_fen=sum(value for _, value in delivered),
        delivered_share=round(delivered_count / planned, 4) if planned else None,
        disbursed_fen=sum(c.disbursed_fen for c in contracts),
    )


async def _acceptance_results(session: AsyncSession, contracts: Sequence[SignedContract]) -> Tally:
    """The contracts by the result of their latest acceptance (those accepted at all)."""
    accepted = Tally()
    results_of = await repository.latest_acceptance_results(session, [c.id for c in contracts])
    for contract in contracts:
        if contract.id in results_of:
            accepted.add(results_of[contract.id], contract.amount_fen, historical=False)
    return accepted


async def _scores(
    session: AsyncSession,
    historical: Sequence[HistoricalProject],
    contracts: Sequence[SignedContract],
    *,
    year: int | None,
    street_code: str | None,
) -> schemas.Scores:
    evaluations = [
        centi / 100 for centi in await repository.final_evaluation_scores(session, [c.id for c in contracts])
    ]
    reviews = [
        centi / 100
        for fund_year, centi in await repository.approved_review_scores(session, street_code=street_code)
        if year is None or fund_year == year
    ]
    historical_scores = [p.score for p in historical if p.score is not None]
    return schemas.Scores(
        review_average=_average(reviews),
        reviewed_projects=len(reviews),
        evaluation_average=_average(evaluations),
        evaluated_projects=len(evaluations),
        historical_average=_average(historical_scores),
        historical_scored=len(historical_scores),
    )


async def _sanctions(session: AsyncSession, *, street_code: str | None) -> schemas.Sanctions:
    by_cause = await repository.active_sanctions_by_cause(session, street_code=street_code)
    return schemas.Sanctions(
        providers_sanctioned=await repository.sanctioned_providers(session, street_code=street_code),
        active_sanctions=sum(by_cause.values()),
        by_cause=by_cause,
    )
