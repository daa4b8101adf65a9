"""Sourcing (采购): the flow that spans the modules — a call's approved application, once its public notice is
published, becomes a draft contract.

It builds on calls (the application and its approval), notices (the announcement) and contracts (the draft), each
through its service, so none of them needs another's internals.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.calls import service as calls_service
from procurement.calls.models import Application, ApplicationStatus
from procurement.contracts import service as contracts_service
from procurement.contracts.schemas import Contract, ContractCreate
from procurement.contracts.service import TargetTerms
from procurement.notices import service as notices_service
from procurement.sourcing import schemas
from service_kit.auth import Principal
from service_kit.errors import InvalidTransition


async def draft_contract(
    session: AsyncSession,
    call_id: uuid.UUID,
    application_id: uuid.UUID,
    data: schemas.ContractFromApplication,
    *,
    by: Principal,
    now: datetime,
) -> Contract:
    """Draft the contract of an approved, publicly announced application (competitive): its title, provider and
    amount, and its call's fund, where the approval committed the amount."""
    application = await calls_service.get_application(session, call_id, application_id, by=by)
    if application.status != ApplicationStatus.approved or application.approved_amount_fen is None:
        raise InvalidTransition(
            "Only an approved application becomes a contract.",
            code="application_not_approved",
            current_status=str(application.status),
        )
    await notices_service.ensure_announced(session, call_id)
    call = await calls_service.get_call(session, call_id, by=by)
    terms = ContractCreate(
        title=application.title,
        provider_id=application.provider_id,
        amount_fen=application.approved_amount_fen,
        start_date=data.start_date,
        end_date=data.end_date,
        stable_service=data.stable_service,
        funded_offerings=data.funded_offerings,
        installments=data.installments,
    )
    return await contracts_service.draft_from_application(
        session,
        terms,
        application_id=application_id,
        fund_id=call.fund_id,
        street_code=call.street_code,
        approved_by=application.approved_by,
        approved_at=application.approved_at,
        targets=targets_of(application, data),
        by=by,
        now=now,
    )


def targets_of(application: Application, data: schemas.ContractFromApplication) -> list[TargetTerms]:
    """The winning application's promises as the contract's targets (绩效目标). What it promised of an offering
    the contract funds is measured (that many verified services of the offering); a funded offering it promised
    nothing of is measured against its quota; everything else it promised (a category of service, an offering
    the contract does not fund, its KPIs) is carried over as stated."""
    funded = {item.offering_id: item.quota for item in data.funded_offerings}
    promised: dict[uuid.UUID, int] = {}
    stated: list[TargetTerms] = []
    for item in application.deliverables:
        what = f"{item['quantity']}人次（{item['target_group']}，{item['period_start']}至{item['period_end']}）"[:200]
        offering_id = uuid.UUID(item["offering_id"]) if item.get("offering_id") else None
        if offering_id is not None and offering_id in funded:
            promised[offering_id] = promised.get(offering_id, 0) + int(item["quantity"])
        else:
            stated.append((str(item.get("service_type") or f"服务项目 {offering_id}")[:200], what, None, None))
    measured: list[TargetTerms] = [
        ("服务人次", f"{promised.get(offering_id, quota)}人次", offering_id, promised.get(offering_id, quota))
        for offering_id, quota in funded.items()
    ]
    kpis: list[TargetTerms] = [(str(kpi["name"]), str(kpi["target"]), None, None) for kpi in application.kpis]
    return measured + stated + kpis
