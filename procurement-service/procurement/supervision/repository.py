"""Every SQL statement about supervising contracts: progress reports, supervision records, linked complaints."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.supervision.models import ContractComplaint, ProgressReport, SupervisionRecord
from service_kit.pagination import fetch_page

Row = TypeVar("Row", ProgressReport, SupervisionRecord, ContractComplaint)


async def add(session: AsyncSession, *rows: ProgressReport | SupervisionRecord | ContractComplaint) -> None:
    session.add_all(rows)
    await session.flush()


async def flush(session: AsyncSession) -> None:
    await session.flush()


async def page(
    session: AsyncSession, model: type[Row], contract_id: uuid.UUID, order: Any, *, limit: int, offset: int
) -> tuple[Sequence[Row], int]:
    """A page of the contract's reports, records or complaints, by ``order``."""
    query = select(model).where(model.contract_id == contract_id).order_by(order, model.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def complaint_links(session: AsyncSession, complaint_id: uuid.UUID) -> list[ContractComplaint]:
    """The complaint's links to the contracts it concerns."""
    result = await session.execute(select(ContractComplaint).where(ContractComplaint.complaint_id == complaint_id))
    return list(result.scalars().all())


async def recorded_for_booking(session: AsyncSession, booking_id: uuid.UUID) -> bool:
    found = await session.scalar(select(SupervisionRecord.id).where(SupervisionRecord.booking_id == booking_id))
    return found is not None


async def supervision_record(
    session: AsyncSession, contract_id: uuid.UUID, record_id: uuid.UUID
) -> SupervisionRecord | None:
    result = await session.execute(
        select(SupervisionRecord).where(SupervisionRecord.id == record_id, SupervisionRecord.contract_id == contract_id)
    )
    return result.scalar_one_or_none()
