"""Every SQL statement of the dashboard: reads over the lifecycle's tables, nothing written."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.acceptance.models import ContractAcceptance
from procurement.calls.models import Application, ApplicationStatus, Call
from procurement.contracts.models import Contract, ContractFundedOffering
from procurement.evaluations.models import ContractEvaluation, EvaluationStage, EvaluationStatus
from procurement.funds.models import Fund
from procurement.needs.models import Need
from procurement.providers.models import ProviderStanding
from procurement.sanctions.models import ProviderSanction, SanctionStatus


@dataclass(frozen=True)
class SignedContract:
    id: uuid.UUID
    year: int
    amount_fen: int
    provider_id: uuid.UUID
    provider_kind: str | None
    directions: list[Any]
    need_ids: list[Any]
    fund_year: int | None
    review_centi: int | None
    disbursed_fen: int
    street_code: str | None


def _of_street(street_code: str | None) -> list[Any]:
    """A street-scoped dashboard's condition on contracts: its street's only."""
    return [Contract.street_code == street_code] if street_code is not None else []


async def signed_contracts(session: AsyncSession, *, street_code: str | None = None) -> list[SignedContract]:
    """Contracts signed on Linli (of ``street_code``), with what their fund, call (if any) and provider say."""
    rows = await session.execute(
        select(
            Contract.id,
            Contract.start_date,
            Contract.amount_fen,
            Contract.provider_id,
            ProviderStanding.kind,
            Call.directions,
            Call.need_ids,
            Fund.year,
            Application.score_centi,
            Contract.disbursed_fen,
            Contract.street_code,
        )
        .outerjoin(ProviderStanding, ProviderStanding.provider_id == Contract.provider_id)
        .outerjoin(Application, Application.id == Contract.application_id)
        .outerjoin(Call, Call.id == Application.call_id)
        .outerjoin(Fund, Fund.id == Contract.fund_id)
        .where(Contract.signed_at.is_not(None), *_of_street(street_code))
    )
    return [
        SignedContract(
            id=row[0],
            year=row[1].year,
            amount_fen=row[2],
            provider_id=row[3],
            provider_kind=row[4],
            directions=list(row[5] or []),
            need_ids=list(row[6] or []),
            fund_year=row[7],
            review_centi=row[8],
            disbursed_fen=int(row[9] or 0),
            street_code=row[10],
        )
        for row in rows.all()
    ]


async def street_of_needs(session: AsyncSession, need_ids: Iterable[str]) -> dict[str, str | None]:
    ids = [uuid.UUID(str(i)) for i in set(need_ids)]
    if not ids:
        return {}
    rows = await session.execute(select(Need.id, Need.street_code).where(Need.id.in_(ids)))
    return {str(need_id): street for need_id, street in rows.all()}


async def planned_services(session: AsyncSession, contract_ids: Iterable[uuid.UUID]) -> tuple[int, int]:
    """Σ quota and Σ quota × unit price of the contracts' funded offerings."""
    ids = list(contract_ids)
    if not ids:
        return 0, 0
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(ContractFundedOffering.quota), 0),
                func.coalesce(func.sum(ContractFundedOffering.quota * ContractFundedOffering.unit_price_fen), 0),
            ).where(ContractFundedOffering.contract_id.in_(ids))
        )
    ).one()
    return int(row[0]), int(row[1])


async def approved_review_scores(session: AsyncSession, *, street_code: str | None = None) -> list[tuple[int, int]]:
    """``(fund year, score in hundredths)`` of every scored, approved application (of ``street_code``'s calls)."""
    streets = [Call.street_code == street_code] if street_code is not None else []
    rows = await session.execute(
        select(Fund.year, Application.score_centi)
        .join(Call, Call.id == Application.call_id)
        .join(Fund, Fund.id == Call.fund_id)
        .where(Application.status == ApplicationStatus.approved, Application.score_centi.is_not(None), *streets)
    )
    return [(int(year), int(centi or 0)) for year, centi in rows.all()]


def _sanctions_of_street(street_code: str | None) -> list[Any]:
    """A street-scoped dashboard's condition on sanctions: those its street's contracts caused."""
    if street_code is None:
        return []
    return [ProviderSanction.contract_id.in_(select(Contract.id).where(Contract.street_code == street_code))]


async def sanctioned_providers(session: AsyncSession, *, street_code: str | None = None) -> int:
    """Providers under a sanction: the district's standing, or for a street those its contracts sanctioned."""
    if street_code is not None:
        query = select(func.count(ProviderSanction.provider_id.distinct())).where(
            ProviderSanction.status == SanctionStatus.active, *_sanctions_of_street(street_code)
        )
    else:
        query = select(func.count()).select_from(ProviderStanding).where(ProviderStanding.sanctioned.is_(True))
    return int(await session.scalar(query) or 0)


async def final_evaluation_scores(session: AsyncSession, contract_ids: Iterable[uuid.UUID]) -> list[int]:
    """The combined scores (hundredths of a point) of the contracts' finalized final evaluations."""
    ids = list(contract_ids)
    if not ids:
        return []
    rows = await session.execute(
        select(ContractEvaluation.combined_score_centi).where(
            ContractEvaluation.contract_id.in_(ids),
            ContractEvaluation.stage == EvaluationStage.final,
            ContractEvaluation.status == EvaluationStatus.finalized,
            ContractEvaluation.combined_score_centi.is_not(None),
        )
    )
    return [int(score) for score in rows.scalars().all() if score is not None]


async def latest_acceptance_results(session: AsyncSession, contract_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Each accepted contract's latest acceptance result (a conditional one is followed by another attempt)."""
    ids = list(contract_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(ContractAcceptance.contract_id, ContractAcceptance.result)
        .where(ContractAcceptance.contract_id.in_(ids))
        .order_by(ContractAcceptance.attempt)
    )
    return {contract_id: str(result) for contract_id, result in rows.all()}


async def active_sanctions_by_cause(session: AsyncSession, *, street_code: str | None = None) -> dict[str, int]:
    rows = await session.execute(
        select(ProviderSanction.cause, func.count())
        .where(ProviderSanction.status == SanctionStatus.active, *_sanctions_of_street(street_code))
        .group_by(ProviderSanction.cause)
    )
    return {str(cause): int(count) for cause, count in rows.all()}
