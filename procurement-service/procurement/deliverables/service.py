"""Counting deliverables: each completed booking a contract funded is recorded once on that contract. A booking
the resident paid in full (no ``funded_contract_id``) is no contract's deliverable, even of a funded offering."""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.audit import service as audit
from procurement.contracts import service as contracts_service
from procurement.deliverables import repository, schemas
from procurement.deliverables.models import Deliverable, DeliverableReview
from procurement.kept import service as kept_service
from service_kit.auth import ApiKeyScope, Principal, Role
from service_kit.errors import Conflict, Forbidden, NotFound
from service_kit.events.contracts import BookingCompleted
from service_kit.timeutil import utcnow

log = structlog.get_logger("procurement.deliverables")


async def record_completed_booking(session: AsyncSession, event: BookingCompleted, *, event_id: str) -> bool:
    """Record the deliverable of a completed booking; False when no contract funded it or it is already counted.

    A booking whose delivery evidence is doubtful (``suspect_reasons``) is recorded pending an official's review:
    counted nowhere until accepted."""
    if await repository.exists_for_booking(session, event.booking_id):
        return False
    funded = await contracts_service.funding_for_delivery(session, event)
    if funded is not None:
        contract_id, unit_price_fen = funded.contract_id, funded.unit_price_fen
    else:
        # A booking that kept the subsidy of a contract which ended (or stopped funding the offering) meanwhile.
        kept = await kept_service.record_delivery(session, event, now=utcnow())
        if kept is None:
            log.info(
                "completed booking funded by no contract of its provider",
                booking_id=str(event.booking_id),
                offering_id=str(event.offering_id),
                funded_contract_id=str(event.funded_contract_id) if event.funded_contract_id else None,
            )
            return False
        contract_id, unit_price_fen = kept
    await repository.add(
        session,
        Deliverable(
            contract_id=contract_id,
            booking_id=event.booking_id,
            offering_id=event.offering_id,
            unit_price_fen=unit_price_fen,
            delivered_at=event.occurred_at,
            source_event_id=event_id,
            suspect_reasons=list(event.suspect_reasons) or None,
            review=DeliverableReview.pending if event.suspect_reasons else None,
        ),
    )
    if event.suspect_reasons:
        log.info(
            "suspect deliverable pending review",
            booking_id=str(event.booking_id),
            contract_id=str(contract_id),
            reasons=list(event.suspect_reasons),
        )
    return True


async def contract_of_booking(session: AsyncSession, booking_id: uuid.UUID) -> uuid.UUID | None:
    """The contract a booking was delivered under, if its delivery was recorded."""
    return await repository.contract_of_booking(session, booking_id)


async def list_page(
    session: AsyncSession, contract_id: uuid.UUID, *, by: Principal, limit: int, offset: int
) -> tuple[list[schemas.Deliverable], int]:
    contract = await contracts_service.get_readable(
        session, contract_id, by=by, key_scope=ApiKeyScope.deliverables_read
    )
    items, total = await repository.list_page(session, contract.id, limit=limit, offset=offset)
    return [schemas.Deliverable.model_validate(item) for item in items], total


async def review(
    session: AsyncSession,
    contract_id: uuid.UUID,
    deliverable_id: uuid.UUID,
    decision: DeliverableReview,
    *,
    reason: str,
    by: Principal,
    now: datetime,
) -> schemas.Deliverable:
    """An official accepts (it then counts) or rejects (it never does) a suspect deliverable, with a reason; the
    decision is audited on the contract. A second review loses: 409 ``deliverable_already_reviewed``."""
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    if not by.has_any(Role.official, Role.admin):
        raise Forbidden("Only the district's officials review suspect deliveries.")
    deliverable = await repository.get(session, contract.id, deliverable_id)
    if deliverable is None:
        raise NotFound("No such deliverable on this contract.", code="deliverable_not_found")
    if deliverable.review is None:
        raise Conflict("This delivery raised no doubt; there is nothing to review.", code="deliverable_not_suspect")
    reviewed = await repository.decide_review(
        session, deliverable.id, decision, reason=reason, reviewed_by=by.subject, reviewed_at=now
    )
    await repository.refresh(session, deliverable)
    if not reviewed:
        raise Conflict(
            f"This delivery was already reviewed ({deliverable.review}).",
            code="deliverable_already_reviewed",
            review=str(deliverable.review),
        )
    # A rejected delivery of a kept booking is owed nothing: an ended contract gives its value back.
    await kept_service.rebalance(session, contract.id, at=now)
    await audit.record(
        session,
        kind="contract",
        subject_id=contract.id,
        action=f"deliverable_{decision.value}",
        by=by,
        at=now,
        reason=reason,
        details={"deliverable_id": str(deliverable.id), "booking_id": str(deliverable.booking_id)},
    )
    return schemas.Deliverable.model_validate(deliverable)
