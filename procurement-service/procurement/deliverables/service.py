"""Counting deliverables: each completed booking a contract funded is recorded once on that contract. A booking
the resident paid in full (no ``funded_contract_id``) is no contract's deliverable, even of a funded offering."""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.contracts import service as contracts_service
from procurement.deliverables import repository, schemas
from procurement.deliverables.models import Deliverable
from service_kit.auth import Principal
from service_kit.events.contracts import BookingCompleted

log = structlog.get_logger("procurement.deliverables")


async def record_completed_booking(session: AsyncSession, event: BookingCompleted, *, event_id: str) -> bool:
    """Record the deliverable of a completed booking; False when no contract funded it or it is already counted."""
    if await repository.exists_for_booking(session, event.booking_id):
        return False
    funded = await contracts_service.funding_for_delivery(
        session,
        offering_id=event.offering_id,
        provider_id=event.provider_id,
        named_contract_id=event.funded_contract_id,
    )
    if funded is None:
        log.info(
            "completed booking funded by no active contract of its provider",
            booking_id=str(event.booking_id),
            offering_id=str(event.offering_id),
            funded_contract_id=str(event.funded_contract_id) if event.funded_contract_id else None,
        )
        return False
    await repository.add(
        session,
        Deliverable(
            contract_id=funded.contract_id,
            booking_id=event.booking_id,
            offering_id=event.offering_id,
            unit_price_fen=funded.unit_price_fen,
            delivered_at=event.occurred_at,
            source_event_id=event_id,
        ),
    )
    return True


async def list_page(
    session: AsyncSession, contract_id: uuid.UUID, *, by: Principal, limit: int, offset: int
) -> tuple[list[schemas.Deliverable], int]:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    items, total = await repository.list_page(session, contract.id, limit=limit, offset=offset)
    return [schemas.Deliverable.model_validate(item) for item in items], total
