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
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.dashboard import repository, schemas
from procurement.deliverables import repository as deliverables_repository
from procurement.history import service as history_service
from procurement.history.schemas import HistoricalProject

UNSPECIFIED = "unspecified"


class Tally:
    def __init__(self) -> None:
        self.counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])

    def add(self, key: str | None, amount_fen: int, *, historical: bool) -> None:
        counts = self.counts[key or UNSPECIFIED]
        counts[0] += 1
        counts[1] += amount_fen
        if historical:
            counts[2] += 1
            counts[3] += amount_fen

    def buckets(self, *, by_key: bool = False) -> list[schemas.Bucket]:
        items = [
            schemas.Bucket(key=k, projects=c[0], amount_fen=c[1], historical_projects=c[2], historical_amount_fen=c[3])
            for k, c in self.counts.items()
        ]
        return sorted(items, key=(lambda b: b.key) if by_key else (lambda b: (-b.amount_fen, b.key)))


def _average(scores: Iterable[float]) -> float | None:
    values = list(scores)
    return round(sum(values) / len(values), 2) if values else None


async def dashboard(session: AsyncSession, *, year: int | None, street_code: str | None = None) -> schemas.Dashboard:
    historical: list[HistoricalProject] = await history_service.projects(session, year=year, street_code=street_code)
    contracts = await repository.signed_contracts(session, street_code=street_code)
    if year is not None:
        contracts = [c for c in contracts if c.year == year]
    streets = await repository.street_of_needs(session, (n for c in contracts for n in c.need_ids))

    by_year, by_direction, by_street, by_kind, results = Tally(), Tally(), Tally(), Tally(), Tally()
    for project in historical:
        by_year.add(str(project.year), project.amount_fen, historical=True)
        by_direction.add(project.direction, project.amount_fen, historical=True)
        by_street.add(project.street_code, project.amount_fen, historical=True)
        by_kind.add(project.provider.kind, project.amount_fen, historical=True)
        results.add(project.result, project.amount_fen, historical=True)
    for contract in contracts:
        named = {streets.get(str(n)) for n in contract.need_ids} - {None}
        street = contract.street_code or (named.pop() if len(named) == 1 else None)
        by_year.add(str(contract.year), contract.amount_fen, historical=False)
        by_direction.add(contract.directions[0] if contract.directions else None, contract.amount_fen, historical=False)
        by_street.add(street, contract.amount_fen, historical=False)
        by_kind.add(contract.provider_kind, contract.amount_fen, historical=False)

    historical_fen = sum(p.amount_fen for p in historical)
    current_fen = sum(c.amount_fen for c in contracts)
    totals = schemas.Totals(
        projects=len(historical) + len(contracts),
        amount_fen=historical_fen + current_fen,
        historical_projects=len(historical),
        historical_amount_fen=historical_fen,
        current_projects=len(contracts),
        current_amount_fen=current_fen,
    )

    contracted_by_fund_year: dict[int, int] = defaultdict(int)
    for contract in contracts:
        if contract.fund_year is not None:
            contracted_by_fund_year[contract.fund_year] += contract.amount_fen
    funds = [
        schemas.FundYear(
            year=fund_year,
            funds=count,
            budget_fen=budget,
            committed_fen=committed,
            spent_fen=spent,
            contracted_fen=contracted_by_fund_year.get(fund_year, 0),
        )
        for fund_year, count, budget, committed, spent in await repository.funds_by_year(session)
        if year is None or fund_year == year
    ]

    contract_ids = [c.id for c in contracts]
    planned, planned_value = await repository.planned_services(session, contract_ids)
    delivered = (await deliverables_repository.totals_by_offering(session, contract_ids)).values()
    delivered_count = sum(count for count, _ in delivered)
    delivery = schemas.Delivery(
        contracts=len(contracts),
        contracted_fen=current_fen,
        planned_services=planned,
        planned_value_fen=planned_value,
        delivered_services=delivered_count,
        delivered_value_fen=sum(value for _, value in delivered),
        delivered_share=round(delivered_count / planned, 4) if planned else None,
        disbursed_fen=sum(c.disbursed_fen for c in contracts),
    )
    accepted = Tally()
    results_of = await repository.latest_acceptance_results(session, contract_ids)
    for contract in contracts:
        if contract.id in results_of:
            accepted.add(results_of[contract.id], contract.amount_fen, historical=False)
    evaluations = [centi / 100 for centi in await repository.final_evaluation_scores(session, contract_ids)]

    reviews = [
        centi / 100
        for fund_year, centi in await repository.approved_review_scores(session, street_code=street_code)
        if year is None or fund_year == year
    ]
    historical_scores = [p.score for p in historical if p.score is not None]
    scores = schemas.Scores(
        review_average=_average(reviews),
        reviewed_projects=len(reviews),
        evaluation_average=_average(evaluations),
        evaluated_projects=len(evaluations),
        historical_average=_average(historical_scores),
        historical_scored=len(historical_scores),
    )
    by_cause = await repository.active_sanctions_by_cause(session, street_code=street_code)
    return schemas.Dashboard(
        year=year,
        street_code=street_code,
        totals=totals,
        by_year=by_year.buckets(by_key=True),
        by_direction=by_direction.buckets(),
        by_street=by_street.buckets(),
        by_provider_kind=by_kind.buckets(),
        historical_results=results.buckets(),
        acceptance_results=accepted.buckets(),
        funds=funds,
        delivery=delivery,
        scores=scores,
        sanctions=schemas.Sanctions(
            providers_sanctioned=await repository.sanctioned_providers(session, street_code=street_code),
            active_sanctions=sum(by_cause.values()),
            by_cause=by_cause,
        ),
    )
