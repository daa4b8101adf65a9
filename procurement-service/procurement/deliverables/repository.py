"""Every SQL statement about deliverables."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.deliverables.models import Deliverable, DeliverableReview
from procurement.guarded import update_if
from service_kit.pagination import fetch_page


async def exists_for_booking(session: AsyncSession, booking_id: uuid.UUID) -> bool:
    found = await session.scalar(select(Deliverable.id).where(Deliverable.booking_id == booking_id))
    return found is not None


async def contract_of_booking(session: AsyncSession, booking_id: uuid.UUID) -> uuid.UUID | None:
    return await session.scalar(select(Deliverable.contract_id).where(Deliverable.booking_id == booking_id))


async def add(session: AsyncSession, deliverable: Deliverable) -> Deliverable:
    session.add(deliverable)
    await session.flush()
    return deliverable


def counted() -> ColumnElement[bool]:
    """Deliverables that count (payable, delivered, attainment, installments, OCDS): those that raised no doubt
    and suspect ones an official accepted."""
    return or_(Deliverable.review.is_(None), Deliverable.review == DeliverableReview.accepted)


async def get(session: AsyncSession, contract_id: uuid.UUID, deliverable_id: uuid.UUID) -> Deliverable | None:
    return await session.scalar(
        select(Deliverable).where(Deliverable.id == deliverable_id, Deliverable.contract_id == contract_id)
    )


async def decide_review(
    session: AsyncSession,
    deliverable_id: uuid.UUID,
    decision: DeliverableReview,
    *,
    reason: str,
    reviewed_by: str,
    reviewed_at: datetime,
) -> bool:
    """Record an official's decision if the deliverable is still pending; False when another review won."""
    return await update_if(
        session,
        Deliverable,
        Deliverable.id == deliverable_id,
        Deliverable.review == DeliverableReview.pending,
        keep_session=True,
        review=decision,
        review_reason=reason,
        reviewed_by=reviewed_by,
        reviewed_at=reviewed_at,
        updated_at=reviewed_at,
    )


async def totals_by_offering(
    session: AsyncSession, contract_ids: Iterable[uuid.UUID]
) -> dict[tuple[uuid.UUID, uuid.UUID], tuple[int, int]]:
    """``(contract_id, offering_id) -> (delivered count, delivered value in fen)``."""
    ids = list(contract_ids)
    if not ids:
        return {}
    result = await session.execute(
        select(
            Deliverable.contract_id,
            Deliverable.offering_id,
            func.count(),
            func.coalesce(func.sum(Deliverable.unit_price_fen), 0),
        )
        .where(Deliverable.contract_id.in_(ids), counted())
        .group_by(Deliverable.contract_id, Deliverable.offering_id)
    )
    return {(row[0], row[1]): (int(row[2]), int(row[3])) for row in result.all()}


async def verified_counts_by_contract(session: AsyncSession, contract_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    """``contract_id -> verified deliveries``: what past performance and the OCDS export count as delivered.
    Built on :func:`totals_by_offering`, so it counts exactly the deliveries that pay."""
    counts: dict[uuid.UUID, int] = {}
    for (contract_id, _offering_id), (count, _value) in (await totals_by_offering(session, contract_ids)).items():
        counts[contract_id] = counts.get(contract_id, 0) + count
    return counts


async def list_page(
    session: AsyncSession, contract_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[Deliverable], int]:
    query = (
        select(Deliverable)
        .where(Deliverable.contract_id == contract_id)
        .order_by(Deliverable.delivered_at.desc(), Deliverable.id)
    )
    return await fetch_page(session, query, limit=limit, offset=offset)


async def refresh(session: AsyncSession, deliverable: Deliverable) -> None:
    await session.refresh(deliverable)
