"""Paying a contract by installment: the next unpaid installment, once its condition is met (signed; mid-term
evaluation finalized; acceptance passed; and the last one only after a passed acceptance with the KPI attainment at
the threshold, whatever condition the plan gave it), never beyond the contract's amount (approved supplements added,
approved settlements taken off the unpaid installments), and from the fund the contract draws on, whose spent +
outstanding + remaining stays its budget.

A payment is what it claims: its payer is the fund's owner, its payee the contracted provider's account (held in
the provider's registered name), its voucher number unique, and its day neither in the future, nor before the
contract was signed or the installment fell due, nor after the term, but for the settlement after acceptance
(验收后结算), which follows the term."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.acceptance import service as acceptance_service
from procurement.config import Settings
from procurement.contracts import repository as contracts_repository
from procurement.contracts import service as contracts_service
from procurement.contracts.models import Contract, ContractInstallment, ContractStatus, InstallmentCondition
from procurement.disbursements import repository, schemas
from procurement.disbursements.models import Disbursement
from procurement.evaluations import service as evaluations_service
from procurement.evaluations.models import EvaluationStage
from procurement.funds import service as funds_service
from procurement.funds.models import Fund
from procurement.kept import repository as kept_repository
from procurement.providers import service as providers_service
from procurement.providers.service import field_error
from service_kit.auth import Principal
from service_kit.errors import Conflict, InvalidTransition
from service_kit.timeutil import SHANGHAI

# The condition a settlement of kept bookings is paid on: they were delivered after the contract ended.
KEPT_SETTLEMENT = "kept_bookings_delivered"


def view(
    row: Disbursement,
    installment: ContractInstallment | None,
    *,
    payee_id: uuid.UUID,
    payer_id: str | None,
    condition: str | None = None,
) -> schemas.Disbursement:
    return schemas.Disbursement(
        id=row.id,
        contract_id=row.contract_id,
        installment_seq=row.installment_seq,
        condition=condition or (installment.condition if installment is not None else KEPT_SETTLEMENT),
        amount_fen=row.amount_fen,
        voucher_number=row.voucher_number,
        payer=row.payer,
        payer_id=payer_id,
        payee=row.payee,
        payee_id=payee_id,
        paid_on=row.paid_on,
        fund_id=row.fund_id,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )


def _day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


async def _condition_met_on(session: AsyncSession, contract: Contract, condition: InstallmentCondition) -> date | None:
    """The day (Beijing) the installment's condition was met, or None while it is not."""
    if condition == InstallmentCondition.on_signing:
        return _day(contract.signed_at) if contract.signed_at is not None else None
    if condition == InstallmentCondition.after_midterm_evaluation:
        finalized = await evaluations_service.finalized_at(session, contract.id, EvaluationStage.midterm)
        return _day(finalized) if finalized is not None else None
    passed = await acceptance_service.passed_at(session, contract.id)
    return _day(passed) if passed is not None else None


def _check_paid_on(
    paid_on: date, contract: Contract, installment: ContractInstallment, *, due_on: date, today: date
) -> None:
    if paid_on > today:
        raise field_error(
            "paid_on",
            f"{paid_on} is in the future; today is {today}.",
            code="paid_on_in_future",
            today=today.isoformat(),
        )
    signed_on = _day(contract.signed_at) if contract.signed_at is not None else due_on
    earliest = max(signed_on, due_on)
    # The settlement after acceptance follows the term; so does an installment whose condition was met late.
    settles_after_term = installment.condition == InstallmentCondition.after_acceptance or due_on > contract.end_date
    latest = today if settles_after_term else min(today, contract.end_date)
    if not earliest <= paid_on <= latest:
        raise field_error(
            "paid_on",
            f"installment {installment.seq} is paid from {earliest} (the contract signed on {signed_on}, the "
            f"installment due on {due_on}) to {latest}; {paid_on} is outside.",
            code="paid_on_outside_contract_period",
            earliest_paid_on=earliest.isoformat(),
            latest_paid_on=latest.isoformat(),
        )


def _same_party(given: str, expected: str) -> bool:
    return "".join(given.split()) == "".join(expected.split())


async def _parties(
    session: AsyncSession, contract: Contract, data: schemas.DisbursementCreate
) -> tuple[Fund, str, str]:
    """The fund paying, the payer (its owner) and the payee (the provider's registered name) of a payment, as the
    voucher must name them; and the voucher is new to the books."""
    if contract.fund_id is None:
        raise Conflict(
            "The contract names no fund: nothing pays it until it draws on one.", code="contract_without_fund"
        )
    # A voucher is recorded once in the district's books (the table's unique key settles a race).
    if await repository.voucher_recorded(session, data.voucher_number):
        raise Conflict("This voucher number is already recorded.", code="duplicate_voucher")
    fund = await funds_service.get_fund(session, contract.fund_id)
    payer = data.payer or fund.owner_name
    if not _same_party(payer, fund.owner_name):
        raise field_error(
            "payer",
            f"the contract is paid from fund {fund.name}, whose owner {fund.owner_name} pays it.",
            code="payer_not_fund_owner",
            expected_payer=fund.owner_name,
            expected_payer_id=fund.owner_id,
        )
    account_holder = await providers_service.registered_name(session, contract.provider_id)
    if account_holder is None:
        raise Conflict(
            "Procurement does not know the provider's registered name, the holder of the account it is paid to.",
            code="payee_unknown",
        )
    payee = data.payee or account_holder
    if not _same_party(payee, account_holder):
        raise field_error(
            "payee",
            f"the contract pays its provider's own account, held in its registered name {account_holder}.",
            code="payee_not_provider",
            expected_payee=account_holder,
            provider_id=str(contract.provider_id),
        )
    return fund, fund.owner_name, account_holder


async def _record(
    session: AsyncSession,
    contract: Contract,
    seq: int,
    amount: int,
    data: schemas.DisbursementCreate,
    fund: Fund,
    payer: str,
    payee: str,
    *,
    by: Principal,
    now: datetime,
) -> Disbursement:
    """The payment's row, as the voucher says it; a voucher number already in the books is a 409."""
    row = Disbursement(
        contract_id=contract.id,
        installment_seq=seq,
        amount_fen=amount,
        voucher_number=data.voucher_number,
        payer=payer,
        payee=payee,
        paid_on=data.paid_on,
        fund_id=fund.id,
        recorded_by=by.subject,
        recorded_at=now,
        created_at=now,
        updated_at=now,
    )
    if not await repository.add_payment(session, row):
        raise Conflict("This voucher number is already recorded.", code="duplicate_voucher")
    return row


async def settle_kept(
    session: AsyncSession, contract: Contract, data: schemas.DisbursementCreate, *, by: Principal, now: datetime
) -> schemas.Disbursement:
    """Pay a terminated contract's kept bookings that were delivered and count (procurement.kept): one settlement
    for all of them so far, numbered after the plan's installments, within what the contract still holds."""
    fund, payer, account_holder = await _parties(session, contract, data)
    rows = await kept_repository.payable(session, contract.id)
    amount = min(sum(kept.value_fen for kept, _ in rows), contract.kept_fen)
    if not rows or amount <= 0:
        raise Conflict(
            "The contract is terminated: only its residents' kept bookings are paid, once delivered, and none is "
            "delivered and unpaid.",
            code="nothing_kept_to_pay",
            kept_fen=contract.kept_fen,
        )
    if data.amount_fen is not None and data.amount_fen != amount:
        raise field_error(
            "amount_fen",
            f"the {len(rows)} delivered kept bookings not yet paid come to {amount} fen; the voucher says "
            f"{data.amount_fen} fen.",
            code="amount_not_due",
            due_fen=amount,
        )
    today = _day(now)
    last_delivery = max(_day(deliverable.delivered_at) for _, deliverable in rows)
    if data.paid_on > today:
        raise field_error(
            "paid_on",
            f"{data.paid_on} is in the future; today is {today}.",
            code="paid_on_in_future",
            today=today.isoformat(),
        )
    if data.paid_on < last_delivery:
        raise field_error(
            "paid_on",
            f"the kept bookings paid were delivered up to {last_delivery}; {data.paid_on} is before.",
            code="paid_on_outside_contract_period",
            earliest_paid_on=last_delivery.isoformat(),
            latest_paid_on=today.isoformat(),
        )
    if not await contracts_repository.pay_kept(session, contract.id, amount, at=now):
        raise Conflict("The contract was paid or changed meanwhile; look again.", code="disbursement_conflict")
    seq = max(len(contract.installments), await repository.last_seq(session, contract.id)) + 1
    row = await _record(session, contract, seq, amount, data, fund, payer, account_holder, by=by, now=now)
    if await kept_repository.mark_paid(session, [kept.id for kept, _ in rows], row.id, now) != len(rows):
        raise Conflict("The contract was paid or changed meanwhile; look again.", code="disbursement_conflict")
    await funds_service.spend(
        session, fund.id, amount, by=by, at=now, details={"contract_id": str(contract.id), "kept_settlement": seq}
    )
    await contracts_service.record_lifecycle(
        session,
        contract,
        "kept_bookings_paid",
        by=by,
        at=now,
        details={
            "disbursement_id": str(row.id),
            "bookings": [str(kept.booking_id) for kept, _ in rows],
            "amount_fen": amount,
            "voucher_number": data.voucher_number,
            "fund_id": str(fund.id),
            "payer": payer,
            "payee": account_holder,
            "paid_on": data.paid_on.isoformat(),
        },
    )
    return view(row, None, payee_id=contract.provider_id, payer_id=fund.owner_id, condition=KEPT_SETTLEMENT)


async def _ensure_last_installment_earned(session: AsyncSession, contract: Contract, settings: Settings) -> None:
    """The last installment, whatever condition the plan gave it, is paid only after a passed acceptance and with
    the KPI attainment at the threshold."""
    if not await acceptance_service.has_passed(session, contract.id):
        raise InvalidTransition(
            "The last installment is paid only after the acceptance (验收) has passed.",
            code="acceptance_not_passed",
            installment_seq=len(contract.installments),
        )
    await evaluations_service.ensure_attainment(session, contract, settings, doing="pay the last installment")


async def disburse(
    session: AsyncSession,
    contract_id: uuid.UUID,
    data: schemas.DisbursementCreate,
    *,
    by: Principal,
    now: datetime,
    settings: Settings,
) -> schemas.Disbursement:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    if contract.status == ContractStatus.terminated:
        return await settle_kept(session, contract, data, by=by, now=now)
    contracts_service.ensure_active(contract, "pay")
    fund, payer, account_holder = await _parties(session, contract, data)
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
    due_on = await _condition_met_on(session, contract, installment.condition)
    if due_on is None:
        raise InvalidTransition(
            f"Installment {seq} is paid {installment.condition.replace('_', ' ')}; that has not happened yet.",
            code="installment_condition_not_met",
            installment_seq=seq,
            condition=str(installment.condition),
        )
    if seq == len(plan):
        await _ensure_last_installment_earned(session, contract, settings)
    _check_paid_on(data.paid_on, contract, installment, due_on=due_on, today=_day(now))
    amount = installment.amount_fen
    if data.amount_fen is not None and data.amount_fen != amount:
        raise field_error(
            "amount_fen",
            f"installment {seq} is {amount} fen as the plan now stands (version {contract.version}); "
            f"the voucher says {data.amount_fen} fen.",
            code="amount_not_due",
            installment_seq=seq,
            due_fen=amount,
            remaining_fen=contract.amount_fen - contract.disbursed_fen,
        )
    planned = len(plan)
    # The guard on paid_installments lets one of two racing payments through; the amount guard (and the table's
    # CHECK) keeps the total within the contract.
    if not await contracts_repository.pay_installment(session, contract.id, seq, amount, at=now):
        raise Conflict("The contract was paid or changed meanwhile; look again.", code="disbursement_conflict")
    # The contract's row is now this payment's, so an amendment that changed the plan meanwhile (a supplement or a
    # settlement changing this installment, or leaving it the last) is seen here: the payment is refused.
    now_plan = (await contracts_service.reload(session, contract.id)).installments
    if len(now_plan) < seq or now_plan[seq - 1].amount_fen != amount or (seq == len(now_plan)) != (seq == planned):
        raise Conflict("The contract was paid or changed meanwhile; look again.", code="disbursement_conflict")
    await funds_service.spend(
        session, fund.id, amount, by=by, at=now, details={"contract_id": str(contract.id), "installment": seq}
    )
    row = await _record(session, contract, seq, amount, data, fund, payer, account_holder, by=by, now=now)
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
            "fund_id": str(fund.id),
            "payer": fund.owner_name,
            "payer_id": fund.owner_id,
            "payee": account_holder,
            "payee_id": str(contract.provider_id),
            "paid_on": data.paid_on.isoformat(),
        },
    )
    return view(row, installment, payee_id=contract.provider_id, payer_id=fund.owner_id)


async def list_page(
    session: AsyncSession, contract_id: uuid.UUID, *, by: Principal, limit: int, offset: int
) -> tuple[list[schemas.Disbursement], int]:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    rows, total = await repository.list_page(session, contract.id, limit=limit, offset=offset)
    plan = {item.seq: item for item in contract.installments}
    owners = await funds_service.owners_of(session, {row.fund_id for row in rows if row.fund_id})
    return [
        view(
            row,
            plan.get(row.installment_seq),
            payee_id=contract.provider_id,
            payer_id=owners.get(row.fund_id) if row.fund_id else None,
        )
        for row in rows
    ], total
