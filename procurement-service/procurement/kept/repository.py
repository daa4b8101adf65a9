"""Every SQL statement about kept bookings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.contracts.models import ContractVersion
from procurement.deliverables.models import Deliverable, DeliverableReview
from procurement.kept.models import KeptBooking, KeptState
from service_kit.db import upsert
from service_kit.pagination import fetch_page


async def get(session: AsyncSession, booking_id: uuid.UUID) -> KeptBooking | None:
    return await session.scalar(select(KeptBooking).where(KeptBooking.booking_id == booking_id))


async def add_unless_known(session: AsyncSession, values: dict[str, Any], at: datetime) -> bool:
    """Insert the booking's row unless one exists (whichever of the report and the booking's events came first
    decided it); True when this call inserted it."""
    table = KeptBooking.__table__
    statement = (
        upsert(session, table)
        .values(id=uuid.uuid4(), created_at=at, updated_at=at, **values)
        .on_conflict_do_nothing(index_elements=[table.c.booking_id])
    )
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def close(session: AsyncSession, booking_id: uuid.UUID, state: KeptState, at: datetime) -> bool:
    """Close an open row (delivered or lapsed); False when it was not open any more."""
    result = await session.execute(
        update(KeptBooking)
        .where(KeptBooking.booking_id == booking_id, KeptBooking.state == KeptState.open)
        .values(state=state, closed_at=at, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def _owed() -> Any:
    """Rows the contract still owes: open ones, and delivered ones not yet paid whose deliverable is not rejected
    (a delivery pending review may still count)."""
    not_rejected = or_(Deliverable.review.is_(None), Deliverable.review != DeliverableReview.rejected)
    return or_(
        KeptBooking.state == KeptState.open,
        (KeptBooking.state == KeptState.delivered) & KeptBooking.disbursement_id.is_(None) & not_rejected,
    )


async def owed_fen(session: AsyncSession, contract_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(KeptBooking.value_fen), 0))
        .select_from(KeptBooking)
        .outerjoin(Deliverable, Deliverable.booking_id == KeptBooking.booking_id)
        .where(KeptBooking.contract_id == contract_id, _owed())
    )
    return int(total or 0)


async def payable(session: AsyncSession, contract_id: uuid.UUID) -> Sequence[tuple[KeptBooking, Deliverable]]:
    """Delivered, unpaid rows whose deliverable counts (raised no doubt, or an official accepted it)."""
    counted = or_(Deliverable.review.is_(None), Deliverable.review == DeliverableReview.accepted)
    result = await session.execute(
        select(KeptBooking, Deliverable)
        .join(Deliverable, Deliverable.booking_id == KeptBooking.booking_id)
        .where(
            KeptBooking.contract_id == contract_id,
            KeptBooking.state == KeptState.delivered,
            KeptBooking.disbursement_id.is_(None),
            counted,
        )
        .order_by(Deliverable.delivered_at, KeptBooking.id)
    )
    return [(row[0], row[1]) for row in result.all()]


async def mark_paid(session: AsyncSession, ids: Sequence[uuid.UUID], disbursement_id: uuid.UUID, at: datetime) -> int:
    result = await session.execute(
        update(KeptBooking)
        .where(KeptBooking.id.in_(list(ids)), KeptBooking.disbursement_id.is_(None))
        .values(disbursement_id=disbursement_id, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))


async def unit_price_in_versions(session: AsyncSession, contract_id: uuid.UUID, offering_id: uuid.UUID) -> int | None:
    """The offering's unit price in the latest version of the contract's terms that funded it."""
    result = await session.execute(
        select(ContractVersion.terms)
        .where(ContractVersion.contract_id == contract_id)
        .order_by(ContractVersion.version.desc())
    )
    for terms in result.scalars():
        for item in terms.get("funded_offerings", []):
            if item.get("offering_id") == str(offering_id):
                return int(item["unit_price_fen"])
    return None


async def list_page(
    session: AsyncSession, contract_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[KeptBooking], int]:
    query = (
        select(KeptBooking)
        .where(KeptBooking.contract_id == contract_id)
        .order_by(KeptBooking.created_at, KeptBooking.id)
    )
    return await fetch_page(session, query, limit=limit, offset=offset)
