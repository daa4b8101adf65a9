"""Paying a contract by installment: the next unpaid installment, once its condition is met (signed; mid-term
evaluation finalized; acceptance passed), never beyond the contract's amount (approved supplements included),
and from the fund the project was committed in, whose spent + outstanding + remaining stays its budget."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.acceptance import service as acceptance_service
from procurement.contracts import repository as contracts_repository
from procurement.contracts import service as contracts_service
from procurement.contracts.models import Contract, ContractInstallment, ContractStatus, InstallmentCondition
from procurement.disbursements import schemas
from procurement.disbursements.models import Disbursement
from procurement.evaluations import service as evaluations_service
from procurement.evaluations.models import EvaluationStage
from procurement.funds import service as funds_service
from service_kit.auth import Principal
from service_kit.errors import Conflict, InvalidTransition
from service_kit.pagination import fetch_page


def view(row: Disbursement, installment: ContractInstallment | None) -> schemas.Disbursement:
    return schemas.Disbursement(
        id=row.id,
        contract_id=row.contract_id,
        installment_seq=row.installment_seq,
        condition=installment.condition if installment is not None else InstallmentCondition.on_signing,
        amount_fen=row.amount_fen,
        voucher_number=row.voucher_number,
        payer=row.payer,
        payee=row.payee,
        paid_on=row.paid_on,
        fund_id=row.fund_id,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )


async def _condition_met(session: AsyncSession, contract: Contract, condition: InstallmentCondition) -> bool:
    if condition == InstallmentCondition.on_signing:
        return contract.signed_at is not None
    if condition == InstallmentCondition.after_midterm_evaluation:
        return await evaluations_service.is_finalized(session, contract.id, EvaluationStage.midterm)
    return await acceptance_service.has_passed(session, contract.id)


async def disburse(
    session: AsyncSession, contract_id: uuid.UUID, data: schemas.DisbursementCreate, *, by: Principal, now: datetime
) -> schemas.Disbursement:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    contracts_service.ensure_active(contract, "pay")
    plan = contract.installments
    seq = contract.paid_installments + 1
    if seq > len(plan):
        raise Conflict(
            f"All {len(plan)} installments of the plan are paid.",
            code="plan_fully_paid",
            installments=len(plan),
            disbursed_fen=contract.disbursed_fen,
        )
    installment = plan[seq - 1]
    if not await _condition_met(session, contract, installment.condition):
        raise InvalidTransition(
            f"Installment {seq} is paid {installment.condition.replace('_', ' ')}; that has not happened yet.",
            code="installment_condition_not_met",
            installment_seq=seq,
            condition=str(installment.condition),
        )
    if await session.scalar(select(Disbursement.id).where(Disbursement.voucher_number == data.voucher_number)):
        raise Conflict("This voucher number is already recorded.", code="duplicate_voucher")
    amount = installment.amount_fen
    # The guard on paid_installments lets one of two racing payments through; the amount guard (and the table's
    # CHECK) keeps the total within the contract.
    paid = await contracts_repository.guarded_update(
        session,
        contract.id,
        Contract.status == ContractStatus.active,
        Contract.paid_installments == seq - 1,
        Contract.disbursed_fen + amount <= Contract.amount_fen,
        paid_installments=Contract.paid_installments + 1,
        disbursed_fen=Contract.disbursed_fen + amount,
        updated_at=now,
    )
    if not paid:
        raise Conflict("The contract was paid or changed meanwhile; look again.", code="disbursement_conflict")
    fund_id = (
        await funds_service.fund_id_of_application(session, contract.application_id)
        if contract.application_id is not None
        else None
    )
    if fund_id is not None:
        await funds_service.spend(
            session, fund_id, amount, by=by, at=now, details={"contract_id": str(contract.id), "installment": seq}
        )
    row = Disbursement(
        contract_id=contract.id,
        installment_seq=seq,
        amount_fen=amount,
        voucher_number=data.voucher_number,
        payer=data.payer,
        payee=data.payee,
        paid_on=data.paid_on,
        fund_id=fund_id,
        recorded_by=by.subject,
        recorded_at=now,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise Conflict("This voucher number is already recorded.", code="duplicate_voucher") from None
    await contracts_service.record_lifecycle(
        session,
        contract,
        "disbursed",
        by=by,
        at=now,
        details={
            "disbursement_id": str(row.id),
            "installment": seq,
            "amount_fen": amount,
            "voucher_number": data.voucher_number,
            "payer": data.payer,
            "payee": data.payee,
            "paid_on": data.paid_on.isoformat(),
        },
    )
    return view(row, installment)


async def list_page(
    session: AsyncSession, contract_id: uuid.UUID, *, by: Principal, limit: int, offset: int
) -> tuple[list[schemas.Disbursement], int]:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    condition = Disbursement.contract_id == contract.id
    query = select(Disbursement).where(condition).order_by(Disbursement.installment_seq)
    rows, total = await fetch_page(session, query, limit=limit, offset=offset)
    plan = {item.seq: item for item in contract.installments}
    return [view(row, plan.get(row.installment_seq)) for row in rows], total
