"""Every SQL statement about contracts' amendments and terminations agreed between the parties."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.amendments.models import ChangeKind, ChangeStatus, ContractAmendment
from procurement.guarded import move_if
from service_kit.pagination import fetch_page


async def add(session: AsyncSession, amendment: ContractAmendment) -> None:
    session.add(amendment)
    await session.flush()


async def get(session: AsyncSession, amendment_id: uuid.UUID) -> ContractAmendment | None:
    return await session.get(ContractAmendment, amendment_id, populate_existing=True)


async def termination_pending(session: AsyncSession, contract_id: uuid.UUID) -> bool:
    """Whether a termination of the contract is proposed and not yet decided."""
    pending = await session.scalar(
        select(func.count())
        .select_from(ContractAmendment)
        .where(
            ContractAmendment.contract_id == contract_id,
            ContractAmendment.kind == ChangeKind.termination,
            ContractAmendment.status == ChangeStatus.proposed,
        )
    )
    return bool(pending)


async def decide_proposed(session: AsyncSession, amendment_id: uuid.UUID, **values: Any) -> bool:
    """One guarded UPDATE: whether the proposal was still undecided (and now has ``values``)."""
    return await move_if(session, ContractAmendment, amendment_id, ChangeStatus.proposed, keep_session=True, **values)


async def refresh_status(session: AsyncSession, amendment: ContractAmendment) -> None:
    await session.refresh(amendment, ["status"])


async def set_resulting_version(session: AsyncSession, amendment_id: uuid.UUID, version: int) -> None:
    await session.execute(
        update(ContractAmendment)
        .where(ContractAmendment.id == amendment_id)
        .values(resulting_version=version)
        .execution_options(synchronize_session=False)
    )


async def list_page(
    session: AsyncSession, contract_id: uuid.UUID, kind: ChangeKind, *, limit: int, offset: int
) -> tuple[Sequence[ContractAmendment], int]:
    """A page of the contract's amendments or terminations, in the order they were proposed."""
    query = (
        select(ContractAmendment)
        .where(ContractAmendment.contract_id == contract_id, ContractAmendment.kind == kind)
        .order_by(ContractAmendment.proposed_at, ContractAmendment.id)
    )
    return await fetch_page(session, query, limit=limit, offset=offset)
