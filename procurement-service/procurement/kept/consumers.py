"""Events the kept module listens to: booking's report of the bookings an ended contract keeps, and how each
ends without a delivery (deliveries arrive through the deliverables module)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.kept import service
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import (
    BookingCancelled,
    BookingChanged,
    BookingExpired,
    BookingNoShow,
    BookingProviderMissed,
    BookingRejected,
    ContractFundingKept,
)
from service_kit.events.envelope import Envelope
from service_kit.timeutil import utcnow

subscription = Subscription("kept-bookings")


@subscription.on(ContractFundingKept)
async def hold_kept_bookings(session: AsyncSession, event: ContractFundingKept, envelope: Envelope) -> None:
    await service.record_report(session, event, now=utcnow())


@subscription.on(BookingCancelled, BookingRejected, BookingExpired, BookingNoShow, BookingProviderMissed)
async def release_lapsed_booking(session: AsyncSession, event: BookingChanged, envelope: Envelope) -> None:
    await service.record_lapse(session, event, now=utcnow())
