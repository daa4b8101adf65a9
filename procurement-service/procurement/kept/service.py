"""What an ended contract still owes: the residents' bookings that keep its subsidy.

booking-service never makes a resident pay more than they were told: when a contract is terminated (or an amendment
stops funding an offering), the residents' upcoming bookings keep the price they were booked at, and can still be
delivered. The contract owes those deliveries, so its money cannot all go back to the fund at once:

1. At the termination the unpaid rest stays committed (``contract.kept_fen``), because procurement does not know
   the bookings yet.
2. booking-service reports them (``linli.contract.funding_kept.v1``). Their value (the offering's unit price under
   the contract) stays held, capped at the unpaid rest; the remainder goes back to the fund.
3. Each kept booking then ends one way or the other, told by booking's own events: delivered (a deliverable of the
   contract, like any other: a suspect one waits for an official's review), or lapsed (cancelled, rejected,
   expired, a no-show, missed by the provider). A lapse, or a delivery an official rejects, gives its value back.
4. An official pays the delivered ones with a settlement (``POST /contracts/{id}/disbursements`` on the terminated
   contract): the sum of the delivered, counted, unpaid kept bookings, to the provider's account, from the fund.

Events may arrive in any order, and more than once: one row per booking (``kept_booking.booking_id``), inserted
by whichever of the report and the booking's own events comes first, and the held amount is always recomputed
from the rows (``rebalance``), never adjusted by a delta."""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.audit import service as audit
from procurement.contracts import repository as contracts_repository
from procurement.contracts.models import Contract, ContractStatus
from procurement.funds import service as funds_service
from procurement.kept import repository, schemas
from procurement.kept.models import KeptState
from service_kit.errors import Conflict
from service_kit.events.contracts import BookingChanged, BookingCompleted, ContractFundingKept

log = structlog.get_logger("procurement.kept")


async def hold_at_termination(session: AsyncSession, contract: Contract, *, at: datetime) -> None:
    """Step 1: the whole unpaid rest stays committed until booking reports what is kept."""
    unpaid = contract.amount_fen - contract.disbursed_fen
    await contracts_repository.hold_kept(session, contract.id, max(unpaid, 0), at=at)


async def _unit_price(session: AsyncSession, contract_id: uuid.UUID, offering_id: uuid.UUID) -> int | None:
    found = await contracts_repository.funded_offering(session, contract_id, offering_id)
    if found is not None:
        return found[1].unit_price_fen
    return await repository.unit_price_in_versions(session, contract_id, offering_id)


async def _add(
    session: AsyncSession,
    contract: Contract,
    booking_id: uuid.UUID,
    offering_id: uuid.UUID,
    state: KeptState,
    at: datetime,
) -> bool:
    value = await _unit_price(session, contract.id, offering_id)
    if value is None:
        log.warning(
            "kept booking of an offering the contract never funded",
            contract_id=str(contract.id),
            booking_id=str(booking_id),
            offering_id=str(offering_id),
        )
        return False
    values = {
        "contract_id": contract.id,
        "booking_id": booking_id,
        "offering_id": offering_id,
        "value_fen": value,
        "state": state.value,
        "closed_at": None if state == KeptState.open else at,
    }
    return await repository.add_unless_known(session, values, at)


async def record_report(session: AsyncSession, event: ContractFundingKept, *, now: datetime) -> None:
    """Step 2: the bookings booking-service keeps at the price they were told."""
    contract = await contracts_repository.get(session, event.contract_id, fresh=True)
    if contract is None:
        log.warning("kept bookings of an unknown contract", contract_id=str(event.contract_id))
        return
    for kept in event.bookings:
        await _add(session, contract, kept.booking_id, kept.offering_id, KeptState.open, now)
    if event.cause == "terminated" and contract.status == ContractStatus.terminated:
        reported = await contracts_repository.mark_kept_reported(session, contract.id, at=now)
        if reported:
            await audit.record(
                session,
                kind="contract",
                subject_id=contract.id,
                action="kept_bookings_reported",
                by=audit.SYSTEM,
                at=now,
                details={"bookings": len(event.bookings)},
            )
    await rebalance(session, contract.id, at=now)


def _kept_after_end(contract: Contract, event: BookingChanged) -> bool:
    """A booking event of an ended contract that happened after it ended: its booking was kept."""
    return (
        contract.status == ContractStatus.terminated
        and contract.terminated_at is not None
        and event.occurred_at >= contract.terminated_at
        and contract.provider_id == event.provider_id
    )


async def record_lapse(session: AsyncSession, event: BookingChanged, *, now: datetime) -> None:
    """Step 3, no delivery: the kept booking was cancelled, rejected, expired, a no-show or missed."""
    if event.funded_contract_id is None:
        return
    if await repository.close(session, event.booking_id, KeptState.lapsed, now):
        await rebalance(session, event.funded_contract_id, at=now)
        return
    if await repository.get(session, event.booking_id) is not None:
        return  # already closed: a redelivered or late event
    contract = await contracts_repository.get(session, event.funded_contract_id, fresh=True)
    if contract is not None and _kept_after_end(contract, event):
        # Before booking's report arrived: remember it, so the report does not hold its value.
        await _add(session, contract, event.booking_id, event.offering_id, KeptState.lapsed, now)


async def record_delivery(
    session: AsyncSession, event: BookingCompleted, *, now: datetime
) -> tuple[uuid.UUID, int] | None:
    """Step 3, delivered: the contract and value to count the deliverable at, when the booking was kept (by the
    report, or completed after the termination before the report arrived); None when it was not."""
    if event.funded_contract_id is None:
        return None
    row = await repository.get(session, event.booking_id)
    if row is None:
        contract = await contracts_repository.get(session, event.funded_contract_id, fresh=True)
        if contract is None or not _kept_after_end(contract, event):
            return None
        if not await _add(session, contract, event.booking_id, event.offering_id, KeptState.delivered, now):
            return None
        row = await repository.get(session, event.booking_id)
        if row is None:
            return None
    elif row.state == KeptState.open:
        await repository.close(session, event.booking_id, KeptState.delivered, now)
    elif row.state == KeptState.lapsed:
        return None
    return row.contract_id, row.value_fen


async def rebalance(session: AsyncSession, contract_id: uuid.UUID, *, at: datetime) -> None:
    """Hold what the terminated contract still owes, once booking has reported, and give the rest back."""
    contract = await contracts_repository.get(session, contract_id, fresh=True)
    if contract is None or contract.status != ContractStatus.terminated or contract.kept_reported_at is None:
        return
    owed = await repository.owed_fen(session, contract.id)
    target = min(contract.kept_fen, owed)
    if target == contract.kept_fen:
        return
    changed = await contracts_repository.change_kept(
        session, contract.id, expected_fen=contract.kept_fen, kept_fen=target, at=at
    )
    if not changed:
        # Another transaction moved it meanwhile: this one is retried (the consumer redelivers it) and recomputes.
        raise Conflict("The contract's kept amount changed meanwhile; look again.", code="kept_conflict")
    if contract.fund_id is not None:
        await funds_service.release(
            session,
            contract.fund_id,
            contract.kept_fen - target,
            by=audit.SYSTEM,
            at=at,
            details={"contract_id": str(contract.id), "reason": "kept bookings settled or lapsed"},
        )


async def list_page(
    session: AsyncSession, contract: Contract, *, limit: int, offset: int
) -> tuple[list[schemas.KeptBooking], int]:
    rows, total = await repository.list_page(session, contract.id, limit=limit, offset=offset)
    return [schemas.KeptBooking.model_validate(row) for row in rows], total
