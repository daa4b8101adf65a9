"""Contracts change only bilaterally (契约精神): either party proposes an amendment or a termination, and it
takes effect when the other party approves; the proposer cannot approve its own. Supplements add at most a
tenth of the original amount, however many are approved at once. A settlement (结算) lowers the amount: never below
what is already paid nor to nothing, however many are approved at once; it comes off the unpaid installments, the
last first, and goes back to the fund. The one exception is the purchaser's termination for cause, which takes
effect at once and records its reason."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.amendments import repository, schemas
from procurement.amendments.models import ChangeKind, ChangeStatus, ContractAmendment, Party
from procurement.contracts import repository as contracts_repository
from procurement.contracts import service as contracts_service
from procurement.contracts.models import Contract
from procurement.contracts.schemas import FundedOfferingCreate
from procurement.funds import service as funds_service
from procurement.providers import service as providers_service
from procurement.providers.service import field_error
from service_kit.auth import Principal, Role
from service_kit.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from service_kit.events.contracts import ContractAmended
from service_kit.events.outbox import emit

# A supplementary agreement adds at most this share of the original amount (补充协议不超过原合同金额的10%).
SUPPLEMENT_LIMIT_DIVISOR = 10


def party_of(principal: Principal, contract: Contract) -> Party:
    """Which side of the contract ``principal`` speaks for; an evaluator or anyone else is no party."""
    if principal.has_any(Role.official, Role.admin):
        return Party.purchaser
    if Role.provider_admin in principal.roles and principal.provider_id == contract.provider_id:
        return Party.provider
    raise Forbidden("Only the contract's parties propose or decide its changes.", code="not_a_party")


def check_supplement(contract: Contract, supplement_fen: int) -> None:
    """Supplements are measured against the signed amount (a settlement's reduction does not shrink the limit;
    the same rule is re-checked in the approving UPDATE)."""
    original = contract.amount_fen - contract.supplement_fen + contract.reduction_fen
    if (contract.supplement_fen + supplement_fen) * SUPPLEMENT_LIMIT_DIVISOR > original:
        limit = original // SUPPLEMENT_LIMIT_DIVISOR
        raise ValidationFailed(
            f"Supplements may add at most 10% of the original {original} fen ({limit} fen); "
            f"{contract.supplement_fen} fen are already approved, {supplement_fen} fen more would exceed it.",
            code="supplement_above_limit",
            original_amount_fen=original,
            limit_fen=limit,
            approved_supplement_fen=contract.supplement_fen,
            requested_fen=supplement_fen,
        )


def check_reduction(contract: Contract, reduction_fen: int) -> None:
    """A reduction leaves the contract a positive amount, and never less than what is already paid."""
    if not reduction_fen:
        return
    new_amount = contract.amount_fen - reduction_fen
    if new_amount <= 0:
        raise field_error(
            "reduction_fen",
            f"lowering the contract's {contract.amount_fen} fen by {reduction_fen} fen leaves nothing; "
            "a contract worth nothing is ended by a termination.",
            code="reduction_above_amount",
            amount_fen=contract.amount_fen,
            reduction_fen=reduction_fen,
        )
    if new_amount < contract.disbursed_fen:
        raise Conflict(
            f"{contract.disbursed_fen} fen of the contract's {contract.amount_fen} fen are already paid; lowering it "
            f"by {reduction_fen} fen would leave {new_amount} fen, less than what is paid. At most "
            f"{contract.amount_fen - contract.disbursed_fen} fen can be taken off.",
            code="reduction_below_paid",
            paid_fen=contract.disbursed_fen,
            amount_fen=contract.amount_fen,
            reduction_fen=reduction_fen,
            new_amount_fen=new_amount,
            max_reduction_fen=contract.amount_fen - contract.disbursed_fen,
        )


def _funded_now(contract: Contract) -> list[FundedOfferingCreate]:
    """The contract's funded offerings as they stand, in the form an amendment states them."""
    return [FundedOfferingCreate.model_validate(item, from_attributes=True) for item in contract.funded_offerings]


async def _get(session: AsyncSession, contract: Contract, amendment_id: uuid.UUID) -> ContractAmendment:
    row = await repository.get(session, amendment_id)
    if row is None or row.contract_id != contract.id:
        raise NotFound("No such amendment or termination.", code="amendment_not_found")
    return row


async def _party_and_contract(session: AsyncSession, contract_id: uuid.UUID, by: Principal) -> tuple[Contract, Party]:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    return contract, party_of(by, contract)


async def _party_and_change(
    session: AsyncSession, contract_id: uuid.UUID, amendment_id: uuid.UUID, kind: ChangeKind, by: Principal
) -> tuple[Contract, Party, ContractAmendment]:
    """The contract, the caller's side of it, and the proposed change of ``kind`` being decided."""
    contract, party = await _party_and_contract(session, contract_id, by)
    amendment = await _get(session, contract, amendment_id)
    if amendment.kind != kind:
        raise NotFound("No such amendment or termination.", code="amendment_not_found")
    return contract, party, amendment


def _new(contract: Contract, party: Party, by: Principal, now: datetime, **fields: Any) -> ContractAmendment:
    return ContractAmendment(
        contract_id=contract.id,
        proposed_by_party=party,
        proposed_by=by.subject,
        proposed_by_name=by.name,
        proposed_at=now,
        created_at=now,
        updated_at=now,
        **fields,
    )


async def propose_amendment(
    session: AsyncSession, contract_id: uuid.UUID, data: schemas.AmendmentCreate, *, by: Principal, now: datetime
) -> schemas.Amendment:
    contract, party = await _party_and_contract(session, contract_id, by)
    contracts_service.ensure_active(contract, "amend")
    if not (data.supplement_fen or data.reduction_fen) and data.end_date is None and data.funded_offerings is None:
        raise ValidationFailed(
            "An amendment changes something: supplement_fen, reduction_fen, end_date or funded_offerings.",
            code="nothing_to_amend",
        )
    if data.supplement_fen and data.reduction_fen:
        raise field_error(
            "reduction_fen",
            "an amendment either adds a supplement or lowers the amount, not both.",
            code="reduction_with_supplement",
        )
    check_supplement(contract, data.supplement_fen)
    check_reduction(contract, data.reduction_fen)
    if data.supplement_fen and contract.fund_id is None:
        raise Conflict("The contract names no fund to commit a supplement from.", code="contract_without_fund")
    if data.end_date is not None:
        contracts_service.check_term(contract.start_date, data.end_date, stable_service=contract.stable_service)
    new_amount = contract.amount_fen + data.supplement_fen - data.reduction_fen
    if data.funded_offerings is None and data.reduction_fen:
        contracts_service.check_funded_offerings(_funded_now(contract), new_amount)
    if data.funded_offerings is not None:
        contracts_service.check_funded_offerings(data.funded_offerings, new_amount)
        await providers_service.require_own_offerings(
            session, contract.provider_id, contracts_service.offering_fields(data.funded_offerings)
        )
    if data.funded_offerings is not None or data.end_date is not None:
        await _ensure_funding_alone(
            session,
            contract,
            [o.offering_id for o in data.funded_offerings] if data.funded_offerings is not None else None,
            data.end_date,
        )
    amendment = _new(
        contract,
        party,
        by,
        now,
        kind=ChangeKind.amendment,
        status=ChangeStatus.proposed,
        summary=data.summary,
        reason=data.reason,
        supplement_fen=data.supplement_fen,
        reduction_fen=data.reduction_fen,
        new_end_date=data.end_date,
        new_funded_offerings=[o.model_dump(mode="json") for o in data.funded_offerings]
        if data.funded_offerings is not None
        else None,
        for_cause=False,
    )
    await repository.add(session, amendment)
    await contracts_service.record_lifecycle(
        session,
        contract,
        "amendment_proposed",
        by=by,
        at=now,
        reason=data.reason,
        details={"amendment_id": str(amendment.id), "party": str(party), **data.model_dump(mode="json")},
    )
    return schemas.Amendment.of(amendment)


async def propose_termination(
    session: AsyncSession, contract_id: uuid.UUID, data: schemas.TerminationCreate, *, by: Principal, now: datetime
) -> schemas.Amendment:
    contract, party = await _party_and_contract(session, contract_id, by)
    if data.for_cause:
        if party != Party.purchaser:
            raise Forbidden("Only the purchaser terminates a contract for cause.", code="for_cause_by_purchaser")
        await contracts_service.terminate(session, contract.id, reason=data.reason, by=by, now=now)
        # Decided as it is proposed: nobody approves an end for cause.
        outcome: dict[str, Any] = {
            "status": ChangeStatus.approved,
            "summary": "终止合同（违约）",
            "decided_by_party": party,
            "decided_by": by.subject,
            "decided_at": now,
            "decision_reason": "terminated for cause by the purchaser",
        }
        action, details = "terminated_for_cause", {}
    else:
        contracts_service.ensure_active(contract, "terminate")
        if await repository.termination_pending(session, contract.id):
            raise Conflict("A termination of this contract is already proposed.", code="termination_pending")
        outcome = {"status": ChangeStatus.proposed, "summary": "协商终止合同"}
        action, details = "termination_proposed", {"party": str(party)}
    termination = _new(
        contract,
        party,
        by,
        now,
        kind=ChangeKind.termination,
        reason=data.reason,
        supplement_fen=0,
        for_cause=data.for_cause,
        **outcome,
    )
    await repository.add(session, termination)
    await contracts_service.record_lifecycle(
        session,
        contract,
        action,
        by=by,
        at=now,
        reason=data.reason,
        details={"termination_id": str(termination.id), **details},
    )
    return schemas.Amendment.of(termination)


async def _decide(
    session: AsyncSession,
    amendment: ContractAmendment,
    to_status: ChangeStatus,
    *,
    party: Party,
    by: Principal,
    now: datetime,
    reason: str | None,
) -> None:
    """Move a proposal out of ``proposed``, unless a racing decision already did."""
    decided = await repository.decide_proposed(
        session,
        amendment.id,
        status=to_status,
        decided_by_party=party,
        decided_by=by.subject,
        decided_at=now,
        decision_reason=reason,
        updated_at=now,
    )
    if not decided:
        await repository.refresh_status(session, amendment)
        raise InvalidTransition(
            f"This {amendment.kind} is {amendment.status}; only a proposed one can be decided.",
            current_status=str(amendment.status),
        )


async def approve(
    session: AsyncSession,
    contract_id: uuid.UUID,
    amendment_id: uuid.UUID,
    kind: ChangeKind,
    data: schemas.Decision,
    *,
    by: Principal,
    now: datetime,
) -> schemas.Amendment:
    contract, party, amendment = await _party_and_change(session, contract_id, amendment_id, kind, by)
    if amendment.status == ChangeStatus.proposed and party == amendment.proposed_by_party:
        raise Forbidden(
            f"The {party} proposed this {kind}; it takes effect only when the other party approves.",
            code="own_proposal",
        )
    await _decide(session, amendment, ChangeStatus.approved, party=party, by=by, now=now, reason=data.reason)
    if kind == ChangeKind.termination:
        await contracts_service.terminate(session, contract.id, reason=amendment.reason, by=by, now=now)
        await contracts_service.record_lifecycle(
            session, contract, "termination_approved", by=by, at=now, details={"termination_id": str(amendment.id)}
        )
    else:
        version = await _apply(session, contract, amendment, by=by, now=now)
        await repository.set_resulting_version(session, amendment.id, version)
    return schemas.Amendment.of(await _get(session, contract, amendment_id))


async def _ensure_funding_alone(
    session: AsyncSession, contract: Contract, offering_ids: list[uuid.UUID] | None, end_date: date | None
) -> None:
    """An amendment's offerings and term overlap no other active contract's funding of the same offerings."""
    await contracts_service.ensure_no_overlap(
        session,
        offering_ids if offering_ids is not None else [o.offering_id for o in contract.funded_offerings],
        contract.start_date,
        end_date or contract.end_date,
        exclude=contract.id,
    )


async def _apply(
    session: AsyncSession, contract: Contract, amendment: ContractAmendment, *, by: Principal, now: datetime
) -> int:
    """Put an approved amendment into effect: one guarded UPDATE of the contract, then its new version."""
    before = contracts_service.snapshot(contract)
    new_offerings = (
        [FundedOfferingCreate.model_validate(o) for o in amendment.new_funded_offerings]
        if amendment.new_funded_offerings is not None
        else None
    )
    if new_offerings is not None or amendment.new_end_date is not None:
        # As when signing: the provider's row first, so racing activations of its offerings' funding queue.
        await providers_service.lock_standing(session, contract.provider_id)
        if new_offerings is not None:
            await providers_service.require_own_offerings(
                session, contract.provider_id, contracts_service.offering_fields(new_offerings)
            )
        await _ensure_funding_alone(
            session,
            contract,
            [o.offering_id for o in new_offerings] if new_offerings is not None else None,
            amendment.new_end_date,
        )
    supplement, reduction = amendment.supplement_fen, amendment.reduction_fen
    if amendment.new_end_date is not None:
        contracts_service.check_term(
            contract.start_date, amendment.new_end_date, stable_service=contract.stable_service
        )
    # The limits are re-checked in the UPDATE itself, so of two amendments approved at once the second sees the
    # first; a supplement is paid with the last installment, so it must not be paid yet.
    applied = await contracts_repository.amend(
        session,
        contract.id,
        supplement_fen=supplement,
        supplement_limit_divisor=SUPPLEMENT_LIMIT_DIVISOR,
        installments=len(contract.installments),
        reduction_fen=reduction,
        end_date=amendment.new_end_date,
        at=now,
    )
    if not applied:
        current = await contracts_service.reload(session, contract.id)
        contracts_service.ensure_active(current, "amend")
        if supplement and current.paid_installments >= len(current.installments):
            raise Conflict("Every installment is paid; a supplement can no longer be added.", code="plan_settled")
        check_supplement(current, supplement)
        check_reduction(current, reduction)
        raise Conflict("The contract changed meanwhile; try again.", code="contract_changed")
    # The contract's row is now this transaction's: what is read from here on no racing change moves.
    current = await contracts_service.reload(session, contract.id)
    if new_offerings is not None or reduction:
        contracts_service.check_funded_offerings(
            new_offerings if new_offerings is not None else _funded_now(current), current.amount_fen
        )
    if supplement and current.paid_installments >= len(current.installments):
        raise Conflict("Every installment is paid; a supplement can no longer be added.", code="plan_settled")
    if reduction:
        left = await contracts_repository.take_from_unpaid_installments(
            session, contract.id, reduction, paid_installments=current.paid_installments
        )
        if left:
            raise Conflict(
                "The unpaid installments do not hold the reduction; the payment plan needs the district's review.",
                code="plan_inconsistent",
                unpaid_short_fen=left,
            )
        if contract.fund_id is not None:
            await funds_service.release(
                session,
                contract.fund_id,
                reduction,
                by=by,
                at=now,
                details={"contract_id": str(contract.id), "amendment_id": str(amendment.id), "reduction": True},
            )
    if amendment.new_funded_offerings is not None:
        await contracts_repository.replace_funded_offerings(
            session,
            contract.id,
            [
                {**o.model_dump(), "eligibility_tags": list(dict.fromkeys(o.eligibility_tags))}
                for o in (FundedOfferingCreate.model_validate(item) for item in amendment.new_funded_offerings)
            ],
        )
    if supplement:
        await contracts_repository.add_to_last_installment(session, contract.id, supplement)
        if contract.fund_id is None:
            raise Conflict("The contract names no fund to commit a supplement from.", code="contract_without_fund")
        # In the same transaction: a supplement the fund cannot hold is refused (budget_exceeded), all of it.
        await funds_service.commit(
            session,
            contract.fund_id,
            supplement,
            by=by,
            at=now,
            details={"contract_id": str(contract.id), "amendment_id": str(amendment.id)},
        )
    amended = await contracts_service.reload(session, contract.id)
    await contracts_service.record_version(session, amended, amendment_id=amendment.id, at=now)
    await contracts_service.audit_change(
        session, amended, action="amended", by=by, at=now, before=before, reason=amendment.reason
    )
    await contracts_service.record_lifecycle(
        session,
        amended,
        "amendment_approved",
        by=by,
        at=now,
        details={
            "amendment_id": str(amendment.id),
            "version": amended.version,
            "supplement_fen": supplement,
            "reduction_fen": reduction,
            "amount_fen": amended.amount_fen,
        },
    )
    await emit(session, ContractAmended(**contracts_service.event_fields(amended, now)))
    return amended.version


async def reject(
    session: AsyncSession,
    contract_id: uuid.UUID,
    amendment_id: uuid.UUID,
    kind: ChangeKind,
    data: schemas.Rejection,
    *,
    by: Principal,
    now: datetime,
) -> schemas.Amendment:
    contract, party, amendment = await _party_and_change(session, contract_id, amendment_id, kind, by)
    if amendment.status == ChangeStatus.proposed and party == amendment.proposed_by_party:
        raise Forbidden("The proposing party withdraws its proposal; the other party rejects it.", code="own_proposal")
    await _decide(session, amendment, ChangeStatus.rejected, party=party, by=by, now=now, reason=data.reason)
    await contracts_service.record_lifecycle(
        session, contract, f"{kind}_rejected", by=by, at=now, reason=data.reason, details={"id": str(amendment.id)}
    )
    return schemas.Amendment.of(await _get(session, contract, amendment_id))


async def withdraw(
    session: AsyncSession,
    contract_id: uuid.UUID,
    amendment_id: uuid.UUID,
    kind: ChangeKind,
    data: schemas.Decision,
    *,
    by: Principal,
    now: datetime,
) -> schemas.Amendment:
    contract, party, amendment = await _party_and_change(session, contract_id, amendment_id, kind, by)
    if party != amendment.proposed_by_party:
        raise Forbidden("Only the proposing party withdraws a proposal.", code="not_the_proposer")
    await _decide(session, amendment, ChangeStatus.withdrawn, party=party, by=by, now=now, reason=data.reason)
    await contracts_service.record_lifecycle(
        session, contract, f"{kind}_withdrawn", by=by, at=now, reason=data.reason, details={"id": str(amendment.id)}
    )
    return schemas.Amendment.of(await _get(session, contract, amendment_id))


async def get(
    session: AsyncSession, contract_id: uuid.UUID, amendment_id: uuid.UUID, kind: ChangeKind, *, by: Principal
) -> schemas.Amendment:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    amendment = await _get(session, contract, amendment_id)
    if amendment.kind != kind:
        raise NotFound("No such amendment or termination.", code="amendment_not_found")
    return schemas.Amendment.of(amendment)


async def list_page(
    session: AsyncSession, contract_id: uuid.UUID, kind: ChangeKind, *, by: Principal, limit: int, offset: int
) -> tuple[list[schemas.Amendment], int]:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    rows, total = await repository.list_page(session, contract.id, kind, limit=limit, offset=offset)
    return [schemas.Amendment.of(row) for row in rows], total
