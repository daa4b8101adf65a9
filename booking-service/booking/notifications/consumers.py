"""Events a resident should hear of, turned into messages. Booking consumes its own booking events through
JetStream like any consumer: the kit's inbox makes each event apply once, and the message tables are unique per
event + recipient + channel besides. Handlers run inside the consumer's transaction (never commit)."""

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from booking.catalog import service as catalog_service
from booking.notifications import service
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import (
    BookingCancelled,
    BookingChanged,
    BookingConfirmed,
    BookingExpired,
    BookingProviderMissed,
    BookingRejected,
    BookingRepriced,
    BookingRescheduled,
    ComplaintChanged,
    ComplaintEscalated,
    ComplaintOpened,
    ComplaintResolved,
    NeedStatusChanged,
    ResidentHelperChanged,
    ResidentHelperGranted,
    ResidentHelperRevoked,
)
from service_kit.events.envelope import Envelope
from service_kit.notify.templates import local_time, spoken_reference, yuan
from service_kit.timeutil import utcnow

Clock = Callable[[], datetime]

BOOKING_KINDS: dict[type[BookingChanged], str] = {
    BookingConfirmed: "booking_confirmed",
    BookingRejected: "booking_rejected",
    BookingExpired: "booking_expired",
    BookingCancelled: "booking_cancelled",
    BookingRescheduled: "booking_rescheduled",
    BookingProviderMissed: "booking_provider_missed",
}
COMPLAINT_KINDS: dict[type[ComplaintChanged], str] = {
    ComplaintOpened: "complaint_opened",
    ComplaintResolved: "complaint_resolved",
    ComplaintEscalated: "complaint_escalated",
}
NEED_PROGRESS = {
    "received": "我们收到了",
    "pooled": "已和邻居们的同类需求合在一起",
    "in_call": "正在为它找服务方",
    "contracted": "已经和服务方签了合同",
    "in_service": "家附近已经可以预约这项服务了",
    "declined": "这次没能办成，社区会向您说明",
}


def _by_the_resident(event: BookingChanged) -> bool:
    """The resident (or her helper, in the app) made the change herself: she knows; no message."""
    return (event.actor or "").startswith("resident:")


def subscription(clock: Clock = utcnow, *, quiet_hours: bool = True) -> Subscription:
    """The ``notifications`` consumer (durable ``booking-notifications``), judging quiet hours by ``clock``."""
    notifications = Subscription("notifications")

    @notifications.on(*BOOKING_KINDS)
    async def tell_of_booking(session: AsyncSession, event: BookingChanged, envelope: Envelope) -> None:
        if event.resident_id is None:
            return
        if isinstance(event, BookingCancelled | BookingRescheduled) and _by_the_resident(event):
            return
        offering = await catalog_service.get_offering(session, event.offering_id)
        about_at = event.slot_start
        if isinstance(event, BookingRescheduled) and event.previous_slot_start is not None:
            about_at = min(event.slot_start, event.previous_slot_start)
        await service.notify(
            session,
            resident_id=event.resident_id,
            kind=BOOKING_KINDS[type(event)],
            values={
                "service": offering.name_zh if offering is not None else "社区服务",
                "time": local_time(event.slot_start),
            },
            event_id=envelope.id,
            subject_id=event.booking_id,
            now=clock(),
            quiet_hours=quiet_hours,
            about_at=about_at,
        )

    @notifications.on(BookingRepriced)
    async def tell_of_new_price(session: AsyncSession, event: BookingRepriced, envelope: Envelope) -> None:
        # Whoever accepted the subsidy (she, her helper, an operator on the phone), she reads what she now pays.
        if event.resident_id is None:
            return
        offering = await catalog_service.get_offering(session, event.offering_id)
        await service.notify(
            session,
            resident_id=event.resident_id,
            kind="booking_repriced",
            values={
                "service": offering.name_zh if offering is not None else "社区服务",
                "time": local_time(event.slot_start),
                "price": yuan(event.price_fen),
                "was": yuan(event.previous_price_fen),
            },
            event_id=envelope.id,
            subject_id=event.booking_id,
            now=clock(),
            quiet_hours=quiet_hours,
            about_at=event.slot_start,
        )

    @notifications.on(*COMPLAINT_KINDS)
    async def tell_of_complaint(session: AsyncSession, event: ComplaintChanged, envelope: Envelope) -> None:
        if event.resident_id is None:
            return
        await service.notify(
            session,
            resident_id=event.resident_id,
            kind=COMPLAINT_KINDS[type(event)],
            # The number the operator read out (or the app showed): she can quote it when she calls about it.
            values={"reference": spoken_reference(event.reference)},
            event_id=envelope.id,
            subject_id=event.complaint_id,
            now=clock(),
            quiet_hours=quiet_hours,
        )

    @notifications.on(NeedStatusChanged)
    async def tell_of_need(session: AsyncSession, event: NeedStatusChanged, envelope: Envelope) -> None:
        if event.resident_id is None:
            return
        await service.notify(
            session,
            resident_id=event.resident_id,
            kind="need_status",
            values={"progress": NEED_PROGRESS[event.status]},
            event_id=envelope.id,
            subject_id=event.need_id,
            now=clock(),
            quiet_hours=quiet_hours,
        )

    @notifications.on(ResidentHelperGranted, ResidentHelperRevoked)
    async def keep_helpers(session: AsyncSession, event: ResidentHelperChanged, envelope: Envelope) -> None:
        await service.record_helper(
            session,
            grant_id=event.grant_id,
            resident_id=event.resident_id,
            helper_resident_id=event.helper_resident_id,
            active=isinstance(event, ResidentHelperGranted),
            as_of=event.occurred_at,
        )

    return notifications
