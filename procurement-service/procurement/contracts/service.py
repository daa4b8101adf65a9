"""The rules of contracts: what a valid contract is, who may see it, how it is signed and terminated,
which contract pays for a delivered service. Every change is written to the audit trail and announced
through the outbox in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.audit import service as audit
from procurement.contracts import repository, schemas
from procurement.contracts.models import (
    Contract,
    ContractAuditEntry,
    ContractFundedOffering,
    ContractInstallment,
    ContractStatus,
    ContractVersion,
    InstallmentCondition,
)
from procurement.deliverables import repository as deliverables_repository
from service_kit.auth import Principal, Role
from service_kit.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from service_kit.events.contracts import ContractSigned, ContractTerminated
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

READER_ROLES = (Role.official, Role.admin, Role.evaluator)

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


def can_read(principal: Principal, contract: Contract) -> bool:
    if principal.has_any(*READER_ROLES):
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
        "supplement_fen": contract.supplement_fen,
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
                original_amount_fen=contract.amount_fen - contract.supplement_fen,
                supplement_fen=contract.supplement_fen,
                disbursed_fen=contract.disbursed_fen,
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
                created_at=contract.created_at,
                updated_at=contract.updated_at,
            )
        )
    return result


async def view(session: AsyncSession, contract: Contract) -> schemas.Contract:
    return (await views(session, [contract]))[0]


async def create(
    session: AsyncSession,
    data: schemas.ContractCreate,
    *,
    by: Principal,
    application_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> schemas.Contract:
    check_terms(data)
    now = now or utcnow()
    contract = Contract(
        application_id=application_id,
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
    )
    await repository.add(session, contract)
    await audit_change(
        session,
        contract,
        action="created",
        by=by,
        at=now,
        before=None,
        reason=f"drawn from approved application {application_id}" if application_id else None,
    )
    return await view(session, contract)


async def get_readable(session: AsyncSession, contract_id: uuid.UUID, *, by: Principal) -> Contract:
    """The contract, if ``by`` may see it; otherwise it does not exist for them."""
    contract = await repository.get(session, contract_id)
    if contract is None or not can_read(by, contract):
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
) -> tuple[list[schemas.Contract], int]:
    contracts, total = await repository.list_page(
        session, status=status, provider_id=provider_id, limit=limit, offset=offset
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
        await session.refresh(contract, ["status"])
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
    if draft.status == ContractStatus.draft and draft.application_id is not None:
        # A contract from a call is signed only after its public notice has ended with every objection answered.
        from procurement.notices import service as notices_service

        await notices_service.ensure_signable_application(session, draft.application_id, now=now)
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
    return await view(session, contract)


async def terminate(
    session: AsyncSession, contract_id: uuid.UUID, *, reason: str, by: Principal, now: datetime | None = None
) -> Contract:
    """End an active contract. Callers decide who may: the purchaser for cause, or both parties (amendments).

    What the fund committed to the contract and has not paid goes back to the fund."""
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
    if contract.application_id is not None:
        from procurement.funds import service as funds_service

        fund_id = await funds_service.fund_id_of_application(session, contract.application_id)
        unpaid = contract.amount_fen - contract.disbursed_fen
        if fund_id is not None and unpaid > 0:
            await funds_service.release(
                session, fund_id, unpaid, by=by, at=now, details={"contract_id": str(contract.id), "reason": reason}
            )
    return contract


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
    session: AsyncSession,
    *,
    offering_id: uuid.UUID,
    provider_id: uuid.UUID,
    named_contract_id: uuid.UUID | None,
    on: date,
) -> ContractFundedOffering | None:
    """Which active contract pays for a service of ``offering_id`` delivered on the day ``on``.

    The booking names its contract when it drew a funded quota; otherwise the delivery is counted only when
    exactly one active contract funds the offering that day (two would make the payer ambiguous). Either way
    the contract must be the delivering provider's own.
    """
    if named_contract_id is not None:
        found = await repository.funded_offering(session, named_contract_id, offering_id)
        candidates = [found] if found is not None else []
    else:
        candidates = list(await repository.active_funding_on(session, offering_id, on))
    candidates = [
        (contract, item)
        for contract, item in candidates
        if contract.status == ContractStatus.active and contract.provider_id == provider_id
    ]
    if len(candidates) != 1:
        return None
    return candidates[0][1]
