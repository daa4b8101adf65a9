"""Events the reference projections listen to: the registry's reference data and providers, and every change
of a booking. Handlers run inside the consumer's transaction, with the event's inbox row: a redelivery changes
nothing, and a late event never overwrites a newer state (``repository``)."""

from sqlalchemy.ext.asyncio import AsyncSession

from feedback.reference import service
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import (
    BookingCancelled,
    BookingChanged,
    BookingCompleted,
    BookingConfirmed,
    BookingCreated,
    BookingExpired,
    BookingNoShow,
    BookingRejected,
    BookingRepriced,
    BookingRescheduled,
    BookingStarted,
    CategoryUpserted,
    CommunityUpserted,
    OfferingPublished,
    OfferingSnapshot,
    OfferingUpdated,
    OfferingWithdrawn,
    ProviderReinstated,
    ProviderStatusChanged,
    ProviderSuspended,
    ProviderVerified,
    ServiceCenterUpserted,
)
from service_kit.events.envelope import Envelope

reference_data = Subscription("reference-data")
bookings = Subscription("resident-bookings")


@reference_data.on(CategoryUpserted)
async def store_category(session: AsyncSession, event: CategoryUpserted, envelope: Envelope) -> None:
    await service.store_category(session, event)


@reference_data.on(CommunityUpserted)
async def store_community(session: AsyncSession, event: CommunityUpserted, envelope: Envelope) -> None:
    await service.store_community(session, event)


@reference_data.on(ServiceCenterUpserted)
async def store_center(session: AsyncSession, event: ServiceCenterUpserted, envelope: Envelope) -> None:
    await service.store_center(session, event)


@reference_data.on(ProviderVerified, ProviderSuspended, ProviderReinstated)
async def store_provider(session: AsyncSession, event: ProviderStatusChanged, envelope: Envelope) -> None:
    await service.store_provider(session, event, envelope.time)


@reference_data.on(OfferingPublished, OfferingUpdated, OfferingWithdrawn)
async def store_offering(session: AsyncSession, event: OfferingSnapshot, envelope: Envelope) -> None:
    await service.store_offering(session, event)


@bookings.on(
    BookingCreated,
    BookingConfirmed,
    BookingRejected,
    BookingCancelled,
    BookingRescheduled,
    BookingRepriced,
    BookingExpired,
    BookingNoShow,
    BookingStarted,
    BookingCompleted,
)
async def store_booking(session: AsyncSession, event: BookingChanged, envelope: Envelope) -> None:
    await service.store_booking(session, event)
