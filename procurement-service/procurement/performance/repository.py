"""Every SQL statement about a provider's past performance: it only reads what other modules recorded."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.acceptance.models import ContractAcceptance
from procurement.contracts.models import Contract, ContractFundedOffering
from procurement.evaluations.models import ContractEvaluation, EvaluationStatus, ProviderSatisfaction
from procurement.history.models import HistoricalProject
from procurement.providers.models import ProviderStanding
from procurement.sanctions.models import ProviderSanction
from procurement.supervision.models import ContractComplaint, SupervisionConclusion, SupervisionRecord


async def standing(session: AsyncSession, provider_id: uuid.UUID) -> ProviderStanding | None:
    return await session.get(ProviderStanding, provider_id)


async def signed_contracts(session: AsyncSession, provider_id: uuid.UUID) -> Sequence[Contract]:
    """The provider's contracts that were ever in force (signed), newest first."""
    result = await session.execute(
        select(Contract)
        .where(Contract.provider_id == provider_id, Contract.signed_at.is_not(None))
        .order_by(Contract.signed_at.desc(), Contract.id)
    )
    return result.scalars().all()


async def quotas(session: AsyncSession, contract_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many services each contract pays for (its funded offerings' quotas)."""
    ids = list(contract_ids)
    if not ids:
        return {}
    result = await session.execute(
        select(ContractFundedOffering.contract_id, func.sum(ContractFundedOffering.quota))
        .where(ContractFundedOffering.contract_id.in_(ids))
        .group_by(ContractFundedOffering.contract_id)
    )
    return {row[0]: int(row[1] or 0) for row in result.all()}


async def latest_acceptances(
    session: AsyncSession, contract_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ContractAcceptance]:
    """Each contract's latest acceptance decision (the highest attempt)."""
    ids = list(contract_ids)
    if not ids:
        return {}
    result = await session.execute(
        select(ContractAcceptance)
        .where(ContractAcceptance.contract_id.in_(ids))
        .order_by(ContractAcceptance.contract_id, ContractAcceptance.attempt)
    )
    return {acceptance.contract_id: acceptance for acceptance in result.scalars().all()}


async def final_scores(session: AsyncSession, contract_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Each contract's finalized combined evaluation score (hundredths of a point), the final stage over the
    mid-term one."""
    ids = list(contract_ids)
    if not ids:
        return {}
    result = await session.execute(
        select(ContractEvaluation.contract_id, ContractEvaluation.stage, ContractEvaluation.combined_score_centi)
        .where(
            ContractEvaluation.contract_id.in_(ids),
            ContractEvaluation.status == EvaluationStatus.finalized,
            ContractEvaluation.combined_score_centi.is_not(None),
        )
        # "final" sorts before "midterm": a contract's final stage comes first, and wins.
        .order_by(ContractEvaluation.contract_id, ContractEvaluation.stage)
    )
    scores: dict[uuid.UUID, int] = {}
    for contract_id, _stage, score in result.all():
        if score is not None:
            scores.setdefault(contract_id, int(score))
    return scores


async def supervision_counts(
    session: AsyncSession, contract_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """``contract_id -> (supervision records, those that found a fault)``."""
    ids = list(contract_ids)
    if not ids:
        return {}
    faulty = func.sum(case((SupervisionRecord.conclusion != SupervisionConclusion.satisfactory, 1), else_=0))
    result = await session.execute(
        select(SupervisionRecord.contract_id, func.count(), faulty)
        .where(SupervisionRecord.contract_id.in_(ids))
        .group_by(SupervisionRecord.contract_id)
    )
    return {row[0]: (int(row[1]), int(row[2] or 0)) for row in result.all()}


# A complaint is settled once feedback-service resolved or closed it; any other status is still open.
SETTLED_COMPLAINTS = ("resolved", "closed")


async def complaint_counts(
    session: AsyncSession, contract_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """``contract_id -> (complaints linked to it, those not yet settled)``."""
    ids = list(contract_ids)
    if not ids:
        return {}
    still_open = func.sum(case((ContractComplaint.status.not_in(SETTLED_COMPLAINTS), 1), else_=0))
    result = await session.execute(
        select(ContractComplaint.contract_id, func.count(), still_open)
        .where(ContractComplaint.contract_id.in_(ids))
        .group_by(ContractComplaint.contract_id)
    )
    return {row[0]: (int(row[1]), int(row[2] or 0)) for row in result.all()}


async def satisfaction(session: AsyncSession, provider_id: uuid.UUID) -> ProviderSatisfaction | None:
    return await session.get(ProviderSatisfaction, provider_id)


async def historical_projects(session: AsyncSession, provider_id: uuid.UUID) -> Sequence[HistoricalProject]:
    result = await session.execute(
        select(HistoricalProject)
        .where(HistoricalProject.provider_id == provider_id)
        .order_by(HistoricalProject.year.desc(), HistoricalProject.reference, HistoricalProject.id)
    )
    return result.scalars().all()


async def sanctions(session: AsyncSession, provider_id: uuid.UUID) -> Sequence[ProviderSanction]:
    result = await session.execute(
        select(ProviderSanction)
        .where(ProviderSanction.provider_id == provider_id)
        .order_by(ProviderSanction.imposed_at.desc(), ProviderSanction.id)
    )
    return result.scalars().all()
