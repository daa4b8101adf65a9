"""Every SQL statement about contracts' acceptances (验收)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.acceptance.models import ContractAcceptance


async def latest(session: AsyncSession, contract_id: uuid.UUID) -> ContractAcceptance | None:
    """The contract's latest acceptance attempt, if any."""
    return await session.scalar(
        select(ContractAcceptance)
        .where(ContractAcceptance.contract_id == contract_id)
        .order_by(ContractAcceptance.attempt.desc())
        .limit(1)
    )


async def add_attempt(session: AsyncSession, acceptance: ContractAcceptance) -> bool:
    """Write the attempt; False when another with the same number was written meanwhile (the unique
    (contract, attempt) refuses the second of two officials recording at once)."""
    try:
        async with session.begin_nested():
            session.add(acceptance)
    except IntegrityError:
        return False
    return True


async def attempts_page(
    session: AsyncSession, contract_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[ContractAcceptance], int]:
    """A page of the contract's acceptance attempts, the first first."""
    condition = ContractAcceptance.contract_id == contract_id
    total = int(await session.scalar(select(func.count()).select_from(ContractAcceptance).where(condition)) or 0)
    rows = await session.execute(
        select(ContractAcceptance).where(condition).order_by(ContractAcceptance.attempt).limit(limit).offset(offset)
    )
    return rows.scalars().all(), total


async def get(session: AsyncSession, contract_id: uuid.UUID, acceptance_id: uuid.UUID) -> ContractAcceptance | None:
    result = await session.execute(
        select(ContractAcceptance).where(
            ContractAcceptance.id == acceptance_id, ContractAcceptance.contract_id == contract_id
        )
    )
    return result.scalar_one_or_none()
