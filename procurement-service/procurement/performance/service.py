"""A provider's past performance, put together from what procurement recorded: its signed contracts with their
verified deliveries, latest acceptance, final evaluation, supervision and linked complaints; residents'
satisfaction (feedback-service's scores); its historical projects (before Linli); its sanctions.

Reviewers see all of it when they score an application (a call may weigh it as a ``past_performance``
criterion); the public sees the standing: contracts that passed acceptance, historical results, sanctions."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.acceptance.models import AcceptanceResult
from procurement.deliverables import repository as deliverables_repository
from procurement.performance import repository, schemas
from procurement.sanctions.models import SanctionStatus
from service_kit.errors import NotFound

GOOD_HISTORICAL_RESULTS = ("excellent", "good")


async def past_performance(session: AsyncSession, provider_id: uuid.UUID) -> schemas.PastPerformance:
    standing = await repository.standing(session, provider_id)
    contracts = await repository.signed_contracts(session, provider_id)
    ids = [c.id for c in contracts]
    quotas = await repository.quotas(session, ids)
    delivered = await deliverables_repository.verified_counts_by_contract(session, ids)
    acceptances = await repository.latest_acceptances(session, ids)
    scores = await repository.final_scores(session, ids)
    supervision = await repository.supervision_counts(session, ids)
    complaints = await repository.complaint_counts(session, ids)
    past = []
    for contract in contracts:
        acceptance = acceptances.get(contract.id)
        records, faults = supervision.get(contract.id, (0, 0))
        filed, still_open = complaints.get(contract.id, (0, 0))
        past.append(
            schemas.PastContract(
                contract_id=contract.id,
                title=contract.title,
                status=str(contract.status),
                procurement_method=str(contract.procurement_method),
                start_date=contract.start_date,
                end_date=contract.end_date,
                amount_fen=contract.amount_fen,
                quota=quotas.get(contract.id, 0),
                verified_deliveries=delivered.get(contract.id, 0),
                acceptance=schemas.Acceptance(
                    result=str(acceptance.result), attempt=acceptance.attempt, decided_at=acceptance.decided_at
                )
                if acceptance is not None
                else None,
                evaluation_score=scores[contract.id] / 100 if contract.id in scores else None,
                supervision_records=records,
                supervision_faults=faults,
                complaints=filed,
                open_complaints=still_open,
            )
        )
    historical = [_historical(p) for p in await repository.historical_projects(session, provider_id)]
    return schemas.PastPerformance(
        provider_id=provider_id,
        provider_name=standing.name if standing is not None else None,
        totals=schemas.Totals(
            contracts=len(past),
            accepted=sum(1 for c in past if c.acceptance and c.acceptance.result == AcceptanceResult.passed),
            failed=sum(1 for c in past if c.acceptance and c.acceptance.result == AcceptanceResult.failed),
            verified_deliveries=sum(c.verified_deliveries for c in past),
            complaints=sum(c.complaints for c in past),
            open_complaints=sum(c.open_complaints for c in past),
            historical_projects=len(historical),
            historical_excellent_or_good=sum(1 for h in historical if h.result in GOOD_HISTORICAL_RESULTS),
        ),
        satisfaction=await _satisfaction(session, provider_id),
        contracts=past,
        historical_projects=historical,
        sanctions=await _sanctions(session, provider_id),
    )


async def standing(session: AsyncSession, provider_id: uuid.UUID) -> schemas.Standing:
    """The public standing; 404 ``provider_not_found`` for a provider procurement has no record of."""
    performance = await past_performance(session, provider_id)
    if performance.provider_name is None and not performance.contracts and not performance.historical_projects:
        raise NotFound("Procurement has no record of this provider.", code="provider_not_found")
    accepted = [
        schemas.PublicContract(
            contract_id=c.contract_id,
            title=c.title,
            start_date=c.start_date,
            end_date=c.end_date,
            amount_fen=c.amount_fen,
            verified_deliveries=c.verified_deliveries,
            acceptance_result=c.acceptance.result,
            accepted_at=c.acceptance.decided_at,
            evaluation_score=c.evaluation_score,
        )
        for c in performance.contracts
        if c.acceptance is not None and c.acceptance.result == AcceptanceResult.passed
    ]
    return schemas.Standing(
        provider_id=provider_id,
        provider_name=performance.provider_name,
        accepted_contracts=accepted,
        historical_projects=performance.historical_projects,
        satisfaction=performance.satisfaction,
        sanctions=performance.sanctions,
        sanctioned_now=any(s.status == SanctionStatus.active for s in performance.sanctions),
    )


def _historical(project: object) -> schemas.HistoricalResult:
    return schemas.HistoricalResult.model_validate(project, from_attributes=True)


async def _satisfaction(session: AsyncSession, provider_id: uuid.UUID) -> schemas.Satisfaction | None:
    found = await repository.satisfaction(session, provider_id)
    if found is None:
        return None
    return schemas.Satisfaction(score=found.score_milli / 1000, rating_count=found.rating_count)


async def _sanctions(session: AsyncSession, provider_id: uuid.UUID) -> list[schemas.SanctionRecord]:
    return [
        schemas.SanctionRecord(
            cause=str(s.cause), measure=s.measure, status=str(s.status), imposed_at=s.imposed_at, ended_at=s.ended_at
        )
        for s in await repository.sanctions(session, provider_id)
    ]
