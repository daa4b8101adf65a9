"""The rules of contracts: how one comes about (from an approved, publicly announced application, or as a
direct award one official proposes with its legal rationale and another approves), what a valid contract is,
who may see it, how it is signed and terminated, which contract pays for a delivered service. Every contract
names its fund; every change is written to the audit trail and announced through the outbox in the same
transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.audit import service as audit
from procurement.auth import sees_street, street_of_new
from procurement.calls import service as calls_service
from procurement.contracts import repository, schemas
from procurement.contracts.models import (
    AwardStatus,
    Contract,
    ContractAuditEntry,
    ContractFundedOffering,
    ContractInstallment,
    ContractStatus,
    ContractTarget,
    ContractVersion,
    InstallmentCondition,
    ProcurementMethod,
)
from procurement.deliverables import repository as deliverables_repository
from procurement.funds import service as funds_service
from procurement.kept import service as kept_service
from procurement.needs import service as needs_service
from procurement.notices import service as notices_service
from procurement.providers import service as providers_service
from service_kit.auth import ApiKeyScope, Principal, Role
from service_kit.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from service_kit.events.contracts import BookingCompleted, BookingProviderMissed, ContractSigned, ContractTerminated
from service_kit.events.contracts import FundedOffering as FundedOfferingEvent
from service_kit.events.outbox import emit
from service_kit.timeutil import utcnow

# The term a contract may run: one year, or three for a stable, recurring service (稳定性服务).
TERM_YEARS = 1
STABLE_SERVICE_TERM_YEARS = 3

# Which status a transition starts from; any other current status is an invalid transition.
TRANSITIONS: dict[str, tuple[ContractStatus, ContractStatus]] = {
    "terminate": (ContractStatus.active, ContractStatus.terminated),
}

READER_ROLES = (Role.official, Role.admin, Role.evaluator, Role.auditor)

# The payment plan when the contract names none: 30% on signing, 40% after the mid-term evaluation, the rest
# once the acceptance has passed.
DEFAULT_PLAN = (
    (InstallmentCondition.on_signing, 30),
    (InstallmentCondition.after_midterm_evaluation, 40),
)


def default_plan(amount_fen: int) -> list[tuple[InstallmentCondition, int]]:
    plan = [(condition, amount_fen * percent // 100) for condition, percent in DEFAULT_PLAN]
    plan.append((InstallmentCondition.after_acceptance, amount_fen - sum(amount for _, amount in plan)))
    return [(condition, amount) for condition, amount in plan if amount > 0]


def plan_of(data: schemas.ContractCreate) -> list[tuple[InstallmentCondition, int]]:
    if data.installments is None:
        return default_plan(data.amount_fen)
    total = sum(item.amount_fen for item in data.installments)
    if total != data.amount_fen:
        raise ValidationFailed(
            f"The installments add up to {total} fen, not the contract's {data.amount_fen} fen.",
            code="installments_not_amount",
            installments_fen=total,
        )
    return [(item.condition, item.amount_fen) for item in data.installments]


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return date(day.year + years, 3, 1)


def last_day_of_term(start: date, years: int) -> date:
    """A term counts its first day: one year from 2027-01-01 ends on 2027-12-31."""
    if start.year + years > date.max.year:  # a hostile start date near the calendar's end
        return date.max
    return add_years(start, years) - timedelta(days=1)


def check_term(start_date: date, end_date: date, *, stable_service: bool) -> None:
    if end_date < start_date:
        raise ValidationFailed("end_date is before start_date.", code="dates_reversed")
    years = STABLE_SERVICE_TERM_YEARS if stable_service else TERM_YEARS
    latest_end = last_day_of_term(start_date, years)
    if end_date > latest_end:
        raise ValidationFailed(
            f"A contract runs at most {years} year(s){' (stable service)' if stable_service else ''}: "
            f"starting {start_date}, it must end by {latest_end}.",
            code="term_too_long",
            latest_end_date=latest_end.isoformat(),
        )


def check_terms(data: schemas.ContractCreate) -> None:
    check_term(data.start_date, data.end_date, stable_service=data.stable_service)
    check_funded_offerings(data.funded_offerings, data.amount_fen)
    plan_of(data)


def check_funded_offerings(offerings: Sequence[schemas.FundedOfferingCreate], amount_fen: int) -> None:
    seen: set[uuid.UUID] = set()
    funded_value = 0
    for index, item in enumerate(offerings):
        if item.offering_id in seen:
            raise ValidationFailed(
                f"funded_offerings.{index}: offering {item.offering_id} is funded twice.", code="duplicate_offering"
            )
        seen.add(item.offering_id)
        if item.resident_price_fen > item.unit_price_fen:
            raise ValidationFailed(
                f"funded_offerings.{index}: resident_price_fen exceeds unit_price_fen.",
                code="resident_price_above_unit_price",
            )
        funded_value += item.unit_price_fen * item.quota
    if funded_value > amount_fen:
        raise ValidationFailed(
            f"The funded offerings are worth {funded_value} fen (unit price × quota), "
            f"more than the contract's {amount_fen} fen.",
            code="funded_value_exceeds_amount",
            funded_value_fen=funded_value,
        )


# A target as stored: (name, target, offering_id, quantity); a measured one names both the offering and the quantity.
TargetTerms = tuple[str, str, uuid.UUID | None, int | None]


def quota_targets(offerings: Sequence[schemas.FundedOfferingCreate]) -> list[TargetTerms]:
    """Each funded offering's quota as its quantity target: a direct award's targets when none are stated."""
    return [("服务人次", f"{item.quota}人次", item.offering_id, item.quota) for item in offerings]


def stated_targets(data: schemas.DirectAwardCreate) -> list[TargetTerms]:
    """The targets an official states when proposing a direct award: a measured target counts one of the funded
    offerings (a quantity without its offering, or the reverse, measures nothing)."""
    if data.targets is None:
        return quota_targets(data.funded_offerings)
    funded = {item.offering_id for item in data.funded_offerings}
    measured: set[uuid.UUID] = set()
    result: list[TargetTerms] = []
    for index, item in enumerate(data.targets):
        if (item.offering_id is None) != (item.quantity is None):
            missing = "quantity" if item.quantity is None else "offering_id"
            raise providers_service.field_error(
                f"targets.{index}.{missing}",
                "a measured target names both the funded offering and the quantity of its services.",
                code="target_incomplete",
            )
        if item.offering_id is not None:
            if item.offering_id not in funded:
                raise providers_service.field_error(
                    f"targets.{index}.offering_id",
                    f"offering {item.offering_id} is not funded by the contract: nothing of it is counted.",
                    code="target_offering_not_funded",
                )
            if item.offering_id in measured:
                raise providers_service.field_error(
                    f"targets.{index}.offering_id",
                    f"offering {item.offering_id} already has a quantity target.",
                    code="duplicate_target",
                )
            measured.add(item.offering_id)
        result.append((item.name, item.target, item.offering_id, item.quantity))
    return result


def can_read(principal: Principal, contract: Contract, key_scope: ApiKeyScope = ApiKeyScope.contracts_read) -> bool:
    """Whether ``principal`` sees the contract: district readers, the contracted provider's admin, and the contracted
    provider's own system with an API key of ``key_scope`` (``deliverables:read`` for what was delivered)."""
    if not sees_street(principal, contract.street_code):
        return False
    if principal.has_any(*READER_ROLES):
        return True
    if principal.system_of(contract.provider_id, key_scope):
        return True
    return Role.provider_admin in principal.roles and principal.provider_id == contract.provider_id


def snapshot(contract: Contract) -> dict[str, Any]:
    """The contract as the audit trail records it (JSON)."""
    return {
        "title": contract.title,
        "provider_id": str(contract.provider_id),
        "amount_fen": contract.amount_fen,
        "start_date": contract.start_date.isoformat(),
        "end_date": contract.end_date.isoformat(),
        "stable_service": contract.stable_service,
        "status": str(contract.status),
        "purchaser_signed_at": contract.purchaser_signed_at.isoformat() if contract.purchaser_signed_at else None,
        "provider_signed_at": contract.provider_signed_at.isoformat() if contract.provider_signed_at else None,
        "signed_at": contract.signed_at.isoformat() if contract.signed_at else None,
        "terminated_at": contract.terminated_at.isoformat() if contract.terminated_at else None,
        "termination_reason": contract.termination_reason,
        "application_id": str(contract.application_id) if contract.application_id else None,
        "procurement_method": str(contract.procurement_method),
        "fund_id": str(contract.fund_id) if contract.fund_id else None,
        "rationale": contract.rationale,
        "award_status": str(contract.award_status),
        "supplement_fen": contract.supplement_fen,
        "reduction_fen": contract.reduction_fen,
        "version": contract.version,
        "installments": [
            {"seq": item.seq, "condition": str(item.condition), "amount_fen": item.amount_fen}
            for item in contract.installments
        ],
        "funded_offerings": [
            {
                "offering_id": str(item.offering_id),
                "unit_price_fen": item.unit_price_fen,
                "resident_price_fen": item.resident_price_fen,
                "quota": item.quota,
                "eligibility_tags": list(item.eligibility_tags),
            }
            for item in contract.funded_offerings
        ],
        "targets": [
            {
                "name": item.name,
                "target": item.target,
                "offering_id": str(item.offering_id) if item.offering_id else None,
                "quantity": item.quantity,
            }
            for item in contract.targets
        ],
    }


async def audit_change(
    session: AsyncSession,
    contract: Contract,
    *,
    action: schemas.ContractAction,
    by: Principal,
    at: datetime,
    before: dict[str, Any] | None,
    reason: str | None = None,
) -> None:
    await repository.add_audit_entry(
        session,
        ContractAuditEntry(
            contract_id=contract.id,
            action=action,
            actor_subject=by.subject,
            actor_name=by.name,
            actor_roles=sorted(str(role) for role in by.roles),
            occurred_at=at,
            before=before,
            after=snapshot(contract),
            reason=reason,
        ),
    )


def signature(at: datetime | None, by: str | None) -> schemas.Signature | None:
    return schemas.Signature(signed_at=at, signed_by=by) if at is not None and by is not None else None


async def views(session: AsyncSession, contracts: Sequence[Contract]) -> list[schemas.Contract]:
    """Contracts as clients see them, with what has been delivered against each funded offering."""
    totals = await deliverables_repository.totals_by_offering(session, (c.id for c in contracts))
    result = []
    for contract in contracts:
        funded = []
        for item in contract.funded_offerings:
            count, value = totals.get((contract.id, item.offering_id), (0, 0))
            funded.append(
                schemas.FundedOffering.model_validate(item, from_attributes=True).model_copy(
                    update={"delivered_count": count, "delivered_value_fen": value}
                )
            )
        result.append(
            schemas.Contract(
                id=contract.id,
                title=contract.title,
                provider_id=contract.provider_id,
                amount_fen=contract.amount_fen,
                start_date=contract.start_date,
                end_date=contract.end_date,
                stable_service=contract.stable_service,
                status=contract.status,
                funded_offerings=funded,
                delivered_count=sum(f.delivered_count for f in funded),
                delivered_value_fen=sum(f.delivered_value_fen for f in funded),
                purchaser_signature=signature(contract.purchaser_signed_at, contract.purchaser_signed_by),
                provider_signature=signature(contract.provider_signed_at, contract.provider_signed_by),
                signed_at=contract.signed_at,
                terminated_at=contract.terminated_at,
                termination_reason=contract.termination_reason,
                application_id=contract.application_id,
                procurement_method=contract.procurement_method,
                fund_id=contract.fund_id,
                street_code=contract.street_code,
                award=schemas.Award(
                    status=contract.award_status,
                    rationale=contract.rationale,
                    proposed_by=contract.created_by
                    if contract.procurement_method == ProcurementMethod.direct
                    else None,
                    decided_by=contract.award_decided_by,
                    decided_at=contract.award_decided_at,
                    reason=contract.award_decision_reason,
                ),
                original_amount_fen=contract.amount_fen - contract.supplement_fen + contract.reduction_fen,
                supplement_fen=contract.supplement_fen,
                reduction_fen=contract.reduction_fen,
                disbursed_fen=contract.disbursed_fen,
                kept_fen=contract.kept_fen,
                kept_reported=contract.kept_reported_at is not None,
                version=contract.version,
                installments=[
                    schemas.Installment(
                        seq=item.seq,
                        condition=item.condition,
                        amount_fen=item.amount_fen,
                        paid=item.seq <= contract.paid_installments,
                    )
                    for item in contract.installments
                ],
                targets=[schemas.Target.model_validate(item) for item in contract.targets],
                created_at=contract.created_at,
                updated_at=contract.updated_at,
            )
        )
    return result


async def view(session: AsyncSession, contract: Contract) -> schemas.Contract:
    return (await views(session, [contract]))[0]


def offering_fields(offerings: Sequence[schemas.FundedOfferingCreate]) -> list[tuple[str, uuid.UUID]]:
    return [(f"funded_offerings.{index}.offering_id", item.offering_id) for index, item in enumerate(offerings)]


async def ensure_no_overlap(
    session: AsyncSession,
    offering_ids: Sequence[uuid.UUID],
    start_date: date,
    end_date: date,
    *,
    exclude: uuid.UUID | None = None,
) -> None:
    """One offering is funded by at most one active contract on any day: refuse (409) a term overlapping
    another active contract's that funds one of the same offerings, naming that contract."""
    found = await repository.active_funding_overlapping(session, offering_ids, start_date, end_date, exclude=exclude)
    if found:
        other, offering_id = found[0]
        raise Conflict(
            f"Offering {offering_id} is already funded by active contract {other.id} "
            f"from {other.start_date} to {other.end_date}; an offering is funded by one contract at a time.",
            code="offering_already_funded",
            contract_id=str(other.id),
            offering_id=str(offering_id),
            start_date=other.start_date.isoformat(),
            end_date=other.end_date.isoformat(),
        )


async def check_award(session: AsyncSession, data: schemas.ContractCreate, *, now: datetime) -> None:
    """What any award checks of its terms: a valid contract, for a verified and unsanctioned provider, funding
    only the provider's own published offerings, none of them funded by another active contract meanwhile."""
    check_terms(data)
    await providers_service.ensure_awardable(session, data.provider_id, now=now)
    await providers_service.require_own_offerings(session, data.provider_id, offering_fields(data.funded_offerings))
    await ensure_no_overlap(
        session, [item.offering_id for item in data.funded_offerings], data.start_date, data.end_date
    )


async def _draft(
    session: AsyncSession,
    data: schemas.ContractCreate,
    *,
    by: Principal,
    now: datetime,
    method: ProcurementMethod,
    fund_id: uuid.UUID,
    award_status: AwardStatus,
    targets: Sequence[TargetTerms],
    application_id: uuid.UUID | None = None,
    street_code: str | None = None,
    rationale: str | None = None,
    award_decided_by: str | None = None,
    award_decided_at: datetime | None = None,
    reason: str | None = None,
) -> Contract:
    contract = Contract(
        application_id=application_id,
        procurement_method=method,
        fund_id=fund_id,
        street_code=street_code,
        rationale=rationale,
        award_status=award_status,
        award_decided_by=award_decided_by,
        award_decided_at=award_decided_at,
        title=data.title,
        provider_id=data.provider_id,
        amount_fen=data.amount_fen,
        start_date=data.start_date,
        end_date=data.end_date,
        stable_service=data.stable_service,
        status=ContractStatus.draft,
        supplement_fen=0,
        disbursed_fen=0,
        paid_installments=0,
        version=1,
        created_by=by.subject,
        created_at=now,
        updated_at=now,
        installments=[
            ContractInstallment(seq=seq, condition=condition, amount_fen=amount)
            for seq, (condition, amount) in enumerate(plan_of(data), start=1)
        ],
        funded_offerings=[
            ContractFundedOffering(
                position=position,
                offering_id=item.offering_id,
                unit_price_fen=item.unit_price_fen,
                resident_price_fen=item.resident_price_fen,
                quota=item.quota,
                eligibility_tags=list(dict.fromkeys(item.eligibility_tags)),
            )
            for position, item in enumerate(data.funded_offerings)
        ],
        targets=[
            ContractTarget(position=position, name=name, target=target, offering_id=offering_id, quantity=quantity)
            for position, (name, target, offering_id, quantity) in enumerate(targets)
        ],
    )
    await repository.add(session, contract)
    await audit_change(session, contract, action="created", by=by, at=now, before=None, reason=reason)
    return contract


async def draft_from_application(
    session: AsyncSession,
    data: schemas.ContractCreate,
    *,
    application_id: uuid.UUID,
    fund_id: uuid.UUID,
    approved_by: str | None,
    approved_at: datetime | None,
    targets: Sequence[TargetTerms],
    street_code: str | None = None,
    by: Principal,
    now: datetime,
) -> schemas.Contract:
    """The contract of a call's approved application (competitive, OCDS ``open``): its award is the approval
    (立项), whose amount the call's fund already committed; its targets the application's promises. An
    application has one contract."""
    if await repository.exists_for_application(session, application_id):
        raise Conflict("The application already has its contract.", code="contract_exists")
    await check_award(session, data, now=now)
    contract = await _draft(
        session,
        data,
        by=by,
        now=now,
        method=ProcurementMethod.open,
        fund_id=fund_id,
        award_status=AwardStatus.approved,
        targets=targets,
        application_id=application_id,
        street_code=street_code,
        award_decided_by=approved_by,
        award_decided_at=approved_at,
        reason=f"drawn from approved application {application_id}",
    )
    return await view(session, contract)


async def propose_direct_award(
    session: AsyncSession, data: schemas.DirectAwardCreate, *, by: Principal, now: datetime
) -> schemas.Contract:
    """One official proposes a direct award (直接委托): a draft contract naming its fund and its legal rationale.
    Nothing is committed yet: another official's approval commits the amount from the fund."""
    street_code = street_of_new(by, data.street_code)
    fund = await funds_service.get_fund(session, data.fund_id)
    await check_award(session, data, now=now)
    targets = stated_targets(data)
    remaining = fund.budget_fen - fund.committed_fen
    if data.amount_fen > remaining:
        raise Conflict(
            f"The fund has {remaining} fen left to commit, less than the award's {data.amount_fen} fen.",
            code="budget_exceeded",
            budget_fen=fund.budget_fen,
            committed_fen=fund.committed_fen,
            remaining_fen=remaining,
        )
    contract = await _draft(
        session,
        data,
        by=by,
        now=now,
        method=ProcurementMethod.direct,
        fund_id=fund.id,
        award_status=AwardStatus.proposed,
        targets=targets,
        street_code=street_code,
        rationale=data.rationale,
        reason=data.rationale,
    )
    return await view(session, contract)


def _ensure_direct_award(contract: Contract) -> None:
    if contract.procurement_method != ProcurementMethod.direct:
        raise InvalidTransition(
            "This contract comes from a call for proposals: its award is the approved application.",
            code="not_a_direct_award",
        )


async def _decide_award(
    session: AsyncSession,
    contract: Contract,
    to_status: AwardStatus,
    *,
    by: Principal,
    now: datetime,
    reason: str | None,
) -> None:
    decided = await repository.guarded_update(
        session,
        contract.id,
        Contract.status == ContractStatus.draft,
        Contract.award_status == AwardStatus.proposed,
        award_status=to_status,
        award_decided_by=by.subject,
        award_decided_at=now,
        award_decision_reason=reason,
        updated_at=now,
    )
    if not decided:
        current = await reload(session, contract.id)
        raise InvalidTransition(
            f"The direct award is {current.award_status}; only a proposed one is decided.",
            current_status=str(current.award_status),
        )


async def approve_direct_award(
    session: AsyncSession, contract_id: uuid.UUID, data: schemas.AwardDecision, *, by: Principal, now: datetime
) -> schemas.Contract:
    """A second official approves a proposed direct award (four eyes: never its proposer). The provider must
    still be awardable and its offerings its own and unfunded; the amount is committed from the fund in the
    same transaction, by the guarded UPDATE that keeps every fund within its budget."""
    contract = await get_readable(session, contract_id, by=by)
    _ensure_direct_award(contract)
    if contract.award_status == AwardStatus.proposed and contract.created_by == by.subject:
        raise Forbidden(
            "The official who proposed a direct award does not approve it; another official does.",
            code="own_proposal",
        )
    if contract.award_status == AwardStatus.proposed:
        await providers_service.ensure_awardable(session, contract.provider_id, now=now)
        await providers_service.require_own_offerings(
            session,
            contract.provider_id,
            [(f"funded_offerings.{i.position}.offering_id", i.offering_id) for i in contract.funded_offerings],
        )
        await ensure_no_overlap(
            session,
            [item.offering_id for item in contract.funded_offerings],
            contract.start_date,
            contract.end_date,
            exclude=contract.id,
        )
    if contract.fund_id is None:  # a proposal always names its fund
        raise Conflict("The contract names no fund to draw on.", code="contract_without_fund")
    before = snapshot(contract)
    await _decide_award(session, contract, AwardStatus.approved, by=by, now=now, reason=data.reason)
    await funds_service.commit(
        session,
        contract.fund_id,
        contract.amount_fen,
        by=by,
        at=now,
        details={"contract_id": str(contract.id), "procurement_method": "direct"},
    )
    approved = await reload(session, contract.id)
    await audit_change(session, approved, action="award_approved", by=by, at=now, before=before, reason=data.reason)
    return await view(session, approved)


async def reject_direct_award(
    session: AsyncSession, contract_id: uuid.UUID, data: schemas.AwardRejection, *, by: Principal, now: datetime
) -> schemas.Contract:
    """An official rejects a proposed direct award (its proposer may, to withdraw it); it is never signed."""
    contract = await get_readable(session, contract_id, by=by)
    _ensure_direct_award(contract)
    before = snapshot(contract)
    await _decide_award(session, contract, AwardStatus.rejected, by=by, now=now, reason=data.reason)
    rejected = await reload(session, contract.id)
    await audit_change(session, rejected, action="award_rejected", by=by, at=now, before=before, reason=data.reason)
    return await view(session, rejected)


async def get_readable(
    session: AsyncSession,
    contract_id: uuid.UUID,
    *,
    by: Principal,
    key_scope: ApiKeyScope = ApiKeyScope.contracts_read,
) -> Contract:
    """The contract, if ``by`` may see it (a provider's system: with ``key_scope``); otherwise it does not exist for
    them."""
    contract = await repository.get(session, contract_id)
    if contract is None or not can_read(by, contract, key_scope):
        raise NotFound("No such contract.", code="contract_not_found")
    return contract


async def get(session: AsyncSession, contract_id: uuid.UUID, *, by: Principal) -> schemas.Contract:
    return await view(session, await get_readable(session, contract_id, by=by))


async def list_page(
    session: AsyncSession,
    *,
    status: ContractStatus | None,
    provider_id: uuid.UUID | None,
    limit: int,
    offset: int,
    by: Principal | None = None,
) -> tuple[list[schemas.Contract], int]:
    if by is not None and by.has_any(Role.provider_system):
        # A provider's system lists its own provider's contracts only: another provider's are none of its business.
        if not by.system_of(by.provider_id, ApiKeyScope.contracts_read):
            raise Forbidden("This API key lacks the scope contracts:read.", code="scope_missing")
        if provider_id is not None and provider_id != by.provider_id:
            return [], 0
        provider_id = by.provider_id
    contracts, total = await repository.list_page(
        session,
        status=status,
        provider_id=provider_id,
        street_code=by.street_code if by is not None else None,
        limit=limit,
        offset=offset,
    )
    return await views(session, contracts), total


async def history(session: AsyncSession, contract_id: uuid.UUID, *, by: Principal) -> schemas.History:
    contract = await get_readable(session, contract_id, by=by)
    entries = await repository.history(session, contract.id)
    return schemas.History(
        contract_id=contract.id, items=[schemas.HistoryEntry.model_validate(e, from_attributes=True) for e in entries]
    )


async def _transition(
    session: AsyncSession,
    contract_id: uuid.UUID,
    action: str,
    *,
    by: Principal,
    at: datetime,
    values: dict[str, Any],
) -> tuple[Contract, dict[str, Any]]:
    contract = await get_readable(session, contract_id, by=by)
    before = snapshot(contract)
    from_status, to_status = TRANSITIONS[action]
    moved = await repository.transition(
        session, contract.id, from_status=from_status, to_status=to_status, values={**values, "updated_at": at}
    )
    if not moved:
        await repository.refresh_status(session, contract)
        raise InvalidTransition(
            f"Cannot {action} a contract that is {contract.status}; it must be {from_status}.",
            current_status=str(contract.status),
        )
    return contract, before


def event_fields(contract: Contract, at: datetime) -> dict[str, Any]:
    return {
        "contract_id": contract.id,
        "provider_id": contract.provider_id,
        "title": contract.title,
        "amount_fen": contract.amount_fen,
        "start_date": contract.start_date,
        "end_date": contract.end_date,
        "status": str(contract.status),
        "funded_offerings": tuple(
            FundedOfferingEvent(
                offering_id=item.offering_id,
                unit_price_fen=item.unit_price_fen,
                resident_price_fen=item.resident_price_fen,
                quota=item.quota,
                eligibility_tags=tuple(item.eligibility_tags),
            )
            for item in contract.funded_offerings
        ),
        "occurred_at": at,
    }


SigningParty = Literal["purchaser", "provider"]
FIRST_SIGNATURE: dict[SigningParty, schemas.ContractAction] = {
    "purchaser": "purchaser_signed",
    "provider": "provider_signed",
}


def signing_party(principal: Principal, contract: Contract) -> SigningParty:
    """Which side of the contract ``principal`` signs for: officials (and admins) for the district, the
    contracted provider's admin for the provider. Anyone else is no party."""
    if principal.has_any(Role.official, Role.admin):
        return "purchaser"
    if Role.provider_admin in principal.roles and principal.provider_id == contract.provider_id:
        return "provider"
    raise Forbidden("Only the contract's parties sign it.", code="not_a_party")


async def sign(
    session: AsyncSession, contract_id: uuid.UUID, *, by: Principal, now: datetime | None = None
) -> schemas.Contract:
    """One party signs a draft (双方签署): the purchaser (an official) or the contracted provider's admin.

    Each signature records who and when. The second signature, whichever party gives it, makes the contract
    signed: it becomes active, its version 1 is recorded, and contract.signed announces it. Of two racing
    signatures, each guarded UPDATE sees the other's, so the contract is signed once."""
    now = now or utcnow()
    draft = await get_readable(session, contract_id, by=by)
    party = signing_party(by, draft)
    if draft.status == ContractStatus.draft:
        await ensure_signable(session, draft, now=now)
    before = snapshot(draft)
    signed_at = getattr(Contract, f"{party}_signed_at")
    recorded = await repository.guarded_update(
        session,
        draft.id,
        Contract.status == ContractStatus.draft,
        signed_at.is_(None),
        **{f"{party}_signed_at": now, f"{party}_signed_by": by.subject, "updated_at": now},
    )
    contract = await reload(session, draft.id)
    if not recorded:
        if contract.status != ContractStatus.draft:
            raise InvalidTransition(
                f"Cannot sign a contract that is {contract.status}; it must be draft.",
                current_status=str(contract.status),
            )
        raise Conflict(f"The {party} has already signed this contract.", code="already_signed", party=party)
    completed = await repository.guarded_update(
        session,
        contract.id,
        Contract.status == ContractStatus.draft,
        Contract.purchaser_signed_at.is_not(None),
        Contract.provider_signed_at.is_not(None),
        status=ContractStatus.active,
        signed_at=now,
        signed_by=by.subject,
        updated_at=now,
    )
    if not completed:
        await audit_change(session, contract, action=FIRST_SIGNATURE[party], by=by, at=now, before=before)
        return await view(session, contract)
    contract = await reload(session, contract.id)
    await audit_change(session, contract, action="signed", by=by, at=now, before=before)
    await record_version(session, contract, amendment_id=None, at=now)
    await emit(session, ContractSigned(**event_fields(contract, now)))
    answered = contract.application_id and await calls_service.needs_answered(session, contract.application_id)
    await needs_service.announce_contract(
        session,
        need_ids=answered or [],
        contract_id=contract.id,
        title=contract.title,
        offering_ids=[item.offering_id for item in contract.funded_offerings],
        at=now,
    )
    return await view(session, contract)


async def ensure_signable(session: AsyncSession, draft: Contract, *, now: datetime) -> None:
    """What a draft needs before either party signs it: an approved award, a fund, for a contract from a call
    a public notice that has ended with every objection answered, a provider still verified and unsanctioned,
    and none of its offerings funded by another active contract during its term.

    The provider's row is taken first: the activations of contracts funding its offerings happen one at a
    time, so of two racing contracts for the same offering the second sees the first active."""
    if draft.award_status != AwardStatus.approved:
        raise Conflict(
            "Only an approved award is signed: a direct award is approved by a second official first.",
            code="award_not_approved",
            award_status=str(draft.award_status),
        )
    if draft.fund_id is None:
        raise Conflict("The contract names no fund to draw on.", code="contract_without_fund")
    if draft.application_id is not None:
        # A contract from a call is signed only after its public notice has ended with every objection answered.
        await notices_service.ensure_signable_application(session, draft.application_id, now=now)
    await providers_service.ensure_awardable(session, draft.provider_id, now=now)
    await providers_service.lock_standing(session, draft.provider_id)
    await ensure_no_overlap(
        session,
        [item.offering_id for item in draft.funded_offerings],
        draft.start_date,
        draft.end_date,
        exclude=draft.id,
    )


async def terminate(
    session: AsyncSession, contract_id: uuid.UUID, *, reason: str, by: Principal, now: datetime | None = None
) -> Contract:
    """End an active contract. Callers decide who may: the purchaser for cause, or both parties (amendments).

    What the fund committed to the contract and has not paid stays committed until booking-service reports the
    residents' bookings that keep its subsidy; then all but their value goes back to the fund (procurement.kept)."""
    now = now or utcnow()
    contract, before = await _transition(
        session,
        contract_id,
        "terminate",
        by=by,
        at=now,
        values={"terminated_at": now, "terminated_by": by.subject, "termination_reason": reason},
    )
    await audit_change(session, contract, action="terminated", by=by, at=now, before=before, reason=reason)
    await emit(session, ContractTerminated(**event_fields(contract, now), reason=reason))
    await kept_service.hold_at_termination(session, contract, at=now)
    return await reload(session, contract.id)


async def active_on(
    session: AsyncSession, provider_id: uuid.UUID, day: date, *, offering_id: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """The provider's contracts active on ``day`` (those funding ``offering_id``, when given)."""
    return await repository.active_on(session, provider_id, day, offering_id=offering_id)


async def reload(session: AsyncSession, contract_id: uuid.UUID) -> Contract:
    contract = await repository.get(session, contract_id, fresh=True)
    if contract is None:
        raise NotFound("No such contract.", code="contract_not_found")
    return contract


async def record_version(
    session: AsyncSession, contract: Contract, *, amendment_id: uuid.UUID | None, at: datetime
) -> None:
    await repository.add_version(
        session,
        ContractVersion(
            contract_id=contract.id,
            version=contract.version,
            amendment_id=amendment_id,
            effective_at=at,
            terms=snapshot(contract),
        ),
    )


async def versions_page(
    session: AsyncSession, contract_id: uuid.UUID, *, by: Principal, limit: int, offset: int
) -> tuple[list[schemas.ContractVersion], int]:
    contract = await get_readable(session, contract_id, by=by)
    items, total = await repository.versions_page(session, contract.id, limit=limit, offset=offset)
    return [schemas.ContractVersion.model_validate(item) for item in items], total


def ensure_active(contract: Contract, doing: str) -> None:
    if contract.status != ContractStatus.active:
        raise InvalidTransition(
            f"Cannot {doing} a contract that is {contract.status}; it must be active.",
            code="contract_not_active",
            current_status=str(contract.status),
        )


async def record_lifecycle(
    session: AsyncSession,
    contract: Contract,
    action: str,
    *,
    by: Principal,
    at: datetime,
    details: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    """An entry in the audit trail under the contract's id: the lifecycle after signing, step by step."""
    await audit.record(
        session, kind="contract", subject_id=contract.id, action=action, by=by, at=at, details=details, reason=reason
    )


async def funding_for_delivery(
    session: AsyncSession, event: BookingCompleted | BookingProviderMissed
) -> ContractFundedOffering | None:
    """Which contract pays for the booking ``event`` is about (completed, or missed by its provider): only the one
    the booking drew its funding from (booking's ``funded_contract_id``), if that contract funds the offering, is
    the delivering provider's own and was active when the service was due (a termination learnt later does not undo
    a delivery). A booking without funding (the resident paid the full price) is paid by nobody: counting it on a
    contract funding the same offering would pay the service twice. Deliveries a contract owes after it ended:
    procurement.kept."""
    if event.funded_contract_id is None:
        return None
    found = await repository.funded_offering(session, event.funded_contract_id, event.offering_id)
    if found is None:
        return None
    contract, item = found
    if contract.provider_id != event.provider_id:
        return None
    if contract.status == ContractStatus.active:
        return item
    ended_after = contract.terminated_at is not None and event.occurred_at < contract.terminated_at
    return item if contract.status == ContractStatus.terminated and ended_after else None
