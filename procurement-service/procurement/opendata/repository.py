"""Every SQL statement the OCDS export runs: it only reads what the lifecycle modules wrote."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import RowMapping, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.sql import Subquery

from procurement.acceptance.models import ContractAcceptance
from procurement.amendments.models import ChangeStatus, ContractAmendment
from procurement.audit.models import AuditEntry
from procurement.calls.models import Application, Call
from procurement.contracts.models import Contract, ContractAuditEntry, ContractFundedOffering
from procurement.deliverables.models import Deliverable
from procurement.deliverables.repository import counted
from procurement.disbursements.models import Disbursement
from procurement.documents.models import TABLES as DOCUMENTS
from procurement.evaluations.models import ContractEvaluation, EvaluationStatus
from procurement.funds.models import Fund
from procurement.kept.models import KeptBooking
from procurement.notices.models import Notice
from procurement.providers.models import ProviderStanding
from procurement.sanctions.models import ProviderSanction

ProcessKind = Literal["call", "contract"]


def _public_processes() -> Subquery:
    """Contracting processes the public may see: published calls, and contracts signed without a call."""
    calls = select(Call.id.label("id"), literal("call").label("kind"), Call.published_at.label("started_at")).where(
        Call.published_at.is_not(None)
    )
    direct = select(
        Contract.id.label("id"), literal("contract").label("kind"), Contract.signed_at.label("started_at")
    ).where(Contract.application_id.is_(None), Contract.signed_at.is_not(None))
    return union_all(calls, direct).subquery()


async def processes_page(
    session: AsyncSession, *, limit: int, offset: int
) -> tuple[list[tuple[ProcessKind, uuid.UUID]], int]:
    processes = _public_processes()
    total = await session.scalar(select(func.count()).select_from(processes))
    rows = await session.execute(
        select(processes.c.kind, processes.c.id)
        .order_by(processes.c.started_at, processes.c.id)
        .limit(limit)
        .offset(offset)
    )
    return [(kind, pid) for kind, pid in rows.all()], int(total or 0)


async def published_call(session: AsyncSession, call_id: uuid.UUID) -> Call | None:
    return await session.scalar(select(Call).where(Call.id == call_id, Call.published_at.is_not(None)))


async def fund(session: AsyncSession, fund_id: uuid.UUID) -> Fund | None:
    return await session.get(Fund, fund_id)


async def applications(session: AsyncSession, call_id: uuid.UUID) -> Sequence[Application]:
    result = await session.execute(select(Application).where(Application.call_id == call_id))
    return result.scalars().all()


async def notice_of_call(session: AsyncSession, call_id: uuid.UUID) -> Notice | None:
    return await session.scalar(select(Notice).where(Notice.call_id == call_id))


async def contracts_of_applications(session: AsyncSession, application_ids: Iterable[uuid.UUID]) -> Sequence[Contract]:
    ids = list(application_ids)
    if not ids:
        return []
    result = await session.execute(
        select(Contract)
        .where(Contract.application_id.in_(ids))
        .options(selectinload(Contract.funded_offerings))
        .order_by(Contract.created_at, Contract.id)
    )
    return result.scalars().all()


async def direct_contract(session: AsyncSession, contract_id: uuid.UUID) -> Contract | None:
    return await session.scalar(
        select(Contract)
        .where(Contract.id == contract_id, Contract.application_id.is_(None), Contract.signed_at.is_not(None))
        .options(selectinload(Contract.funded_offerings))
    )


async def audit_entries(session: AsyncSession, subject_ids: Iterable[uuid.UUID]) -> Sequence[AuditEntry]:
    ids = list(subject_ids)
    result = await session.execute(select(AuditEntry).where(AuditEntry.subject_id.in_(ids)).order_by(AuditEntry.seq))
    return result.scalars().all()


async def contract_audit_entries(
    session: AsyncSession, contract_ids: Iterable[uuid.UUID]
) -> Sequence[ContractAuditEntry]:
    ids = list(contract_ids)
    if not ids:
        return []
    result = await session.execute(
        select(ContractAuditEntry).where(ContractAuditEntry.contract_id.in_(ids)).order_by(ContractAuditEntry.seq)
    )
    return result.scalars().all()


async def providers(session: AsyncSession, provider_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, ProviderStanding]:
    ids = list(set(provider_ids))
    if not ids:
        return {}
    result = await session.execute(select(ProviderStanding).where(ProviderStanding.provider_id.in_(ids)))
    return {p.provider_id: p for p in result.scalars().all()}


async def approved_amendments(
    session: AsyncSession, contract_ids: Iterable[uuid.UUID]
) -> dict[tuple[uuid.UUID, int], ContractAmendment]:
    """Amendments both parties approved, by the contract version each produced."""
    ids = list(contract_ids)
    if not ids:
        return {}
    result = await session.execute(
        select(ContractAmendment).where(
            ContractAmendment.contract_id.in_(ids),
            ContractAmendment.status == ChangeStatus.approved,
            ContractAmendment.resulting_version.is_not(None),
        )
    )
    return {(a.contract_id, a.resulting_version or 0): a for a in result.scalars().all()}


async def disbursements(
    session: AsyncSession, contract_ids: Iterable[uuid.UUID]
) -> Sequence[tuple[Disbursement, bool]]:
    """The contracts' payments, each with whether it settled kept bookings after a termination (not an
    installment of the plan)."""
    ids = list(contract_ids)
    if not ids:
        return []
    settles_kept = select(KeptBooking.id).where(KeptBooking.disbursement_id == Disbursement.id).exists()
    result = await session.execute(select(Disbursement, settles_kept).where(Disbursement.contract_id.in_(ids)))
    return [(row[0], bool(row[1])) for row in result.all()]


async def finalized_evaluations(
    session: AsyncSession, contract_ids: Iterable[uuid.UUID]
) -> Sequence[ContractEvaluation]:
    ids = list(contract_ids)
    if not ids:
        return []
    result = await session.execute(
        select(ContractEvaluation).where(
            ContractEvaluation.contract_id.in_(ids), ContractEvaluation.status == EvaluationStatus.finalized
        )
    )
    return result.scalars().all()


async def acceptances(session: AsyncSession, contract_ids: Iterable[uuid.UUID]) -> Sequence[ContractAcceptance]:
    ids = list(contract_ids)
    if not ids:
        return []
    result = await session.execute(select(ContractAcceptance).where(ContractAcceptance.contract_id.in_(ids)))
    return result.scalars().all()


async def public_documents(
    session: AsyncSession, owner_kind: str, owner_ids: Iterable[uuid.UUID]
) -> dict[str, list[RowMapping]]:
    """The public documents (service_kit.documents) of the given records, by owner id, oldest first."""
    ids = [str(owner_id) for owner_id in owner_ids]
    if not ids:
        return {}
    table = DOCUMENTS.document
    result = await session.execute(
        select(table)
        .where(table.c.owner_kind == owner_kind, table.c.owner_id.in_(ids), table.c.public.is_(True))
        .order_by(table.c.created_at, table.c.id)
    )
    found: dict[str, list[RowMapping]] = {}
    for row in result.mappings():
        found.setdefault(row["owner_id"], []).append(row)
    return found


async def verified_deliveries(
    session: AsyncSession, contract_ids: Iterable[uuid.UUID]
) -> dict[tuple[uuid.UUID, uuid.UUID], tuple[int, datetime]]:
    """``(contract_id, offering_id) -> (verified deliveries, the latest one's time)``: only deliverables that
    count (:func:`procurement.deliverables.repository.counted`), never a suspect one pending or rejected."""
    ids = list(contract_ids)
    if not ids:
        return {}
    result = await session.execute(
        select(Deliverable.contract_id, Deliverable.offering_id, func.count(), func.max(Deliverable.delivered_at))
        .where(Deliverable.contract_id.in_(ids), counted())
        .group_by(Deliverable.contract_id, Deliverable.offering_id)
    )
    return {(row[0], row[1]): (int(row[2]), row[3]) for row in result.all()}


async def funded_quotas(
    session: AsyncSession, contract_ids: Iterable[uuid.UUID]
) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
    ids = list(contract_ids)
    if not ids:
        return {}
    result = await session.execute(
        select(
            ContractFundedOffering.contract_id, ContractFundedOffering.offering_id, ContractFundedOffering.quota
        ).where(ContractFundedOffering.contract_id.in_(ids))
    )
    return {(row[0], row[1]): int(row[2]) for row in result.all()}


async def sanctions(session: AsyncSession, contract_ids: Iterable[uuid.UUID]) -> Sequence[ProviderSanction]:
    """Sanctions imposed for these contracts."""
    ids = list(contract_ids)
    if not ids:
        return []
    result = await session.execute(
        select(ProviderSanction)
        .where(ProviderSanction.contract_id.in_(ids))
        .order_by(ProviderSanction.imposed_at, ProviderSanction.id)
    )
    return result.scalars().all()
