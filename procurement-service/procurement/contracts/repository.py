"""Every SQL statement about contracts, their funded offerings and their audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from procurement.contracts.models import (
    Contract,
    ContractAuditEntry,
    ContractFundedOffering,
    ContractInstallment,
    ContractStatus,
    ContractVersion,
)
from procurement.guarded import move_if, update_if
from service_kit.pagination import fetch_page

LOAD_TERMS = (
    selectinload(Contract.funded_offerings),
    selectinload(Contract.installments),
    selectinload(Contract.targets),
)


async def add(session: AsyncSession, contract: Contract) -> Contract:
    session.add(contract)
    await session.flush()
    return contract


async def get(session: AsyncSession, contract_id: uuid.UUID, *, fresh: bool = False) -> Contract | None:
    """The contract with its terms; ``fresh`` re-reads a contract already in the session (after a guarded UPDATE)."""
    statement = select(Contract).where(Contract.id == contract_id).options(*LOAD_TERMS)
    if fresh:
        statement = statement.execution_options(populate_existing=True)
    result = await session.execute(statement)
    return result.scalar_one_or_none()


async def street_of(session: AsyncSession, contract_id: uuid.UUID) -> str | None:
    return await session.scalar(select(Contract.street_code).where(Contract.id == contract_id))


async def exists_for_application(session: AsyncSession, application_id: uuid.UUID) -> bool:
    found = await session.scalar(select(Contract.id).where(Contract.application_id == application_id).limit(1))
    return found is not None


async def list_page(
    session: AsyncSession,
    *,
    status: ContractStatus | None,
    provider_id: uuid.UUID | None,
    limit: int,
    offset: int,
    street_code: str | None = None,
) -> tuple[Sequence[Contract], int]:
    conditions = []
    if street_code is not None:  # a street-scoped official's: their street's contracts only
        conditions.append(Contract.street_code == street_code)
    if status is not None:
        conditions.append(Contract.status == status)
    if provider_id is not None:
        conditions.append(Contract.provider_id == provider_id)
    query = select(Contract).where(*conditions).options(*LOAD_TERMS).order_by(Contract.created_at.desc(), Contract.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def transition(
    session: AsyncSession,
    contract_id: uuid.UUID,
    *,
    from_status: ContractStatus,
    to_status: ContractStatus,
    values: dict[str, Any],
) -> bool:
    """Move the contract from ``from_status`` to ``to_status`` unless someone else moved it first."""
    return await move_if(session, Contract, contract_id, from_status, status=to_status, **values)


async def add_audit_entry(session: AsyncSession, entry: ContractAuditEntry) -> None:
    session.add(entry)
    await session.flush()


async def history(session: AsyncSession, contract_id: uuid.UUID) -> Sequence[ContractAuditEntry]:
    result = await session.execute(
        select(ContractAuditEntry).where(ContractAuditEntry.contract_id == contract_id).order_by(ContractAuditEntry.seq)
    )
    return result.scalars().all()


async def funded_offering(
    session: AsyncSession, contract_id: uuid.UUID, offering_id: uuid.UUID
) -> tuple[Contract, ContractFundedOffering] | None:
    result = await session.execute(
        select(Contract, ContractFundedOffering)
        .join(ContractFundedOffering, ContractFundedOffering.contract_id == Contract.id)
        .where(Contract.id == contract_id, ContractFundedOffering.offering_id == offering_id)
    )
    row = result.first()
    return (row[0], row[1]) if row is not None else None


async def active_funding_overlapping(
    session: AsyncSession,
    offering_ids: Iterable[uuid.UUID],
    start_date: date,
    end_date: date,
    *,
    exclude: uuid.UUID | None,
) -> list[tuple[Contract, uuid.UUID]]:
    """Active contracts (but ``exclude``) funding one of ``offering_ids`` on a day of ``start_date``–``end_date``."""
    ids = list(dict.fromkeys(offering_ids))
    if not ids:
        return []
    conditions: list[Any] = [
        ContractFundedOffering.offering_id.in_(ids),
        Contract.status == ContractStatus.active,
        Contract.start_date <= end_date,
        Contract.end_date >= start_date,
    ]
    if exclude is not None:
        conditions.append(Contract.id != exclude)
    result = await session.execute(
        select(Contract, ContractFundedOffering.offering_id)
        .join(ContractFundedOffering, ContractFundedOffering.contract_id == Contract.id)
        .where(*conditions)
        .order_by(Contract.signed_at, Contract.id)
    )
    return [(row[0], row[1]) for row in result.all()]


async def guarded_update(session: AsyncSession, contract_id: uuid.UUID, *conditions: Any, **values: Any) -> bool:
    """UPDATE the contract only WHERE ``conditions`` hold: of two racing changes, the second sees the first's."""
    return await update_if(session, Contract, Contract.id == contract_id, *conditions, keep_session=True, **values)


async def pay_installment(
    session: AsyncSession, contract_id: uuid.UUID, seq: int, amount_fen: int, *, at: datetime
) -> bool:
    """Count installment ``seq`` paid, if the contract is active, ``seq`` is the next one, and the amount keeps
    the total paid within the contract. Of two racing payments, one passes the guard on ``paid_installments``."""
    return await guarded_update(
        session,
        contract_id,
        Contract.status == ContractStatus.active,
        Contract.paid_installments == seq - 1,
        Contract.disbursed_fen + amount_fen <= Contract.amount_fen,
        paid_installments=Contract.paid_installments + 1,
        disbursed_fen=Contract.disbursed_fen + amount_fen,
        updated_at=at,
    )


async def pay_kept(session: AsyncSession, contract_id: uuid.UUID, amount_fen: int, *, at: datetime) -> bool:
    """Pay ``amount_fen`` of a terminated contract's kept bookings, if it still holds that much for them and the
    total paid stays within the contract."""
    return await guarded_update(
        session,
        contract_id,
        Contract.status == ContractStatus.terminated,
        Contract.kept_fen >= amount_fen,
        Contract.disbursed_fen + amount_fen <= Contract.amount_fen,
        kept_fen=Contract.kept_fen - amount_fen,
        disbursed_fen=Contract.disbursed_fen + amount_fen,
        updated_at=at,
    )


async def hold_kept(session: AsyncSession, contract_id: uuid.UUID, kept_fen: int, *, at: datetime) -> bool:
    """Hold ``kept_fen`` for kept bookings, until booking-service has reported them."""
    return await guarded_update(
        session, contract_id, Contract.kept_reported_at.is_(None), kept_fen=kept_fen, updated_at=at
    )


async def mark_kept_reported(session: AsyncSession, contract_id: uuid.UUID, *, at: datetime) -> bool:
    """Note that booking-service reported the kept bookings, the first time it does."""
    return await guarded_update(
        session, contract_id, Contract.kept_reported_at.is_(None), kept_reported_at=at, updated_at=at
    )


async def change_kept(
    session: AsyncSession, contract_id: uuid.UUID, *, expected_fen: int, kept_fen: int, at: datetime
) -> bool:
    """Hold ``kept_fen`` instead of ``expected_fen``, if no other transaction changed it meanwhile."""
    return await guarded_update(
        session, contract_id, Contract.kept_fen == expected_fen, kept_fen=kept_fen, updated_at=at
    )


async def amend(
    session: AsyncSession,
    contract_id: uuid.UUID,
    *,
    supplement_fen: int,
    supplement_limit_divisor: int,
    installments: int,
    reduction_fen: int,
    end_date: date | None,
    at: datetime,
) -> bool:
    """Apply an approved amendment to an active contract as its next version, re-checking its limits in the
    UPDATE itself: of two supplements (or two reductions, or a reduction and a payment) at once, the second sees
    the first. A supplement keeps all supplements within ``1 / supplement_limit_divisor`` of the original amount
    and is paid with the last installment, so none may be paid of the ``installments`` yet; a reduction keeps the
    amount above zero and at least what is paid."""
    conditions: list[Any] = [Contract.status == ContractStatus.active]
    values: dict[str, Any] = {"version": Contract.version + 1, "updated_at": at}
    if supplement_fen:
        conditions.append(
            (Contract.supplement_fen + supplement_fen) * supplement_limit_divisor
            <= Contract.amount_fen - Contract.supplement_fen + Contract.reduction_fen
        )
        conditions.append(Contract.paid_installments < installments)
        values["amount_fen"] = Contract.amount_fen + supplement_fen
        values["supplement_fen"] = Contract.supplement_fen + supplement_fen
    if reduction_fen:
        conditions.append(Contract.amount_fen - reduction_fen >= Contract.disbursed_fen)
        conditions.append(Contract.amount_fen - reduction_fen > 0)
        values["amount_fen"] = Contract.amount_fen - reduction_fen
        values["reduction_fen"] = Contract.reduction_fen + reduction_fen
    if end_date is not None:
        values["end_date"] = end_date
    return await guarded_update(session, contract_id, *conditions, **values)


async def replace_funded_offerings(
    session: AsyncSession, contract_id: uuid.UUID, offerings: list[dict[str, Any]]
) -> None:
    await session.execute(delete(ContractFundedOffering).where(ContractFundedOffering.contract_id == contract_id))
    await session.execute(
        insert(ContractFundedOffering),
        [{"contract_id": contract_id, "position": position, **item} for position, item in enumerate(offerings)],
    )


async def add_to_last_installment(session: AsyncSession, contract_id: uuid.UUID, amount_fen: int) -> None:
    last = (
        select(func.max(ContractInstallment.seq))
        .where(ContractInstallment.contract_id == contract_id)
        .scalar_subquery()
    )
    await session.execute(
        update(ContractInstallment)
        .where(ContractInstallment.contract_id == contract_id, ContractInstallment.seq == last)
        .values(amount_fen=ContractInstallment.amount_fen + amount_fen)
        .execution_options(synchronize_session=False)
    )


async def take_from_unpaid_installments(
    session: AsyncSession, contract_id: uuid.UUID, amount_fen: int, *, paid_installments: int
) -> int:
    """Lower the unpaid installments (those after the first ``paid_installments``) by ``amount_fen`` in all, the
    last first; an installment lowered to nothing leaves the plan. Returns what could not be taken (0 when the
    unpaid installments held enough)."""
    rows = (
        await session.execute(
            select(ContractInstallment.id, ContractInstallment.amount_fen)
            .where(ContractInstallment.contract_id == contract_id, ContractInstallment.seq > paid_installments)
            .order_by(ContractInstallment.seq.desc())
        )
    ).all()
    left = amount_fen
    for installment_id, installment_fen in rows:
        if left == 0:
            break
        taken = min(left, installment_fen)
        left -= taken
        if taken == installment_fen:
            await session.execute(
                delete(ContractInstallment)
                .where(ContractInstallment.id == installment_id)
                .execution_options(synchronize_session=False)
            )
        else:
            await session.execute(
                update(ContractInstallment)
                .where(ContractInstallment.id == installment_id)
                .values(amount_fen=ContractInstallment.amount_fen - taken)
                .execution_options(synchronize_session=False)
            )
    return left


async def add_version(session: AsyncSession, version: ContractVersion) -> None:
    session.add(version)
    await session.flush()


async def versions_page(
    session: AsyncSession, contract_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[ContractVersion], int]:
    query = select(ContractVersion).where(ContractVersion.contract_id == contract_id).order_by(ContractVersion.version)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def refresh_status(session: AsyncSession, contract: Contract) -> None:
    await session.refresh(contract, ["status"])


async def active_on(
    session: AsyncSession, provider_id: uuid.UUID, day: date, *, offering_id: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """The provider's contracts active on ``day`` (funding the offering, when one is named)."""
    statement = select(Contract.id).where(
        Contract.provider_id == provider_id,
        Contract.status == ContractStatus.active,
        Contract.start_date <= day,
        Contract.end_date >= day,
    )
    if offering_id is not None:
        statement = statement.join(ContractFundedOffering, ContractFundedOffering.contract_id == Contract.id).where(
            ContractFundedOffering.offering_id == offering_id
        )
    return list((await session.execute(statement)).scalars().all())
