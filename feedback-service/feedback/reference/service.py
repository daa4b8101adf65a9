"""The facts a complaint or a need must name, and the refusals when it names something feedback does not know.

Every rule answers 422 with a stable ``code`` and the field it concerns (``errors[0].field``), before anything
is written, so a refused request creates nothing: no row, no event, no SLA clock.

- ``category_code`` names a category the registry announced (``category.upserted``): ``unknown_category``;
- ``community_code`` a community it announced (``community.upserted``): ``unknown_community``;
- a complaint about a center names a center it announced (``service_center.upserted``): ``unknown_center``;
- about a provider (or a ``provider_id``), a provider it verified (``provider.verified``; still known once
  suspended, whose past service may be complained about): ``unknown_provider``;
- about an offering, one it published (``offering.*``): ``unknown_offering``;
- about a booking, one booking announced (any ``booking.*``, whatever its state) **and** the complainant's:
  ``unknown_booking``.

Another resident's booking is refused exactly like one that does not exist (``unknown_booking``): a resident
learns nothing of other residents' bookings. Events arrive asynchronously, so a client that has just created a
category, a community, a booking or a provider may be refused for a moment: the detail says the thing is not
known *yet*, and retrying after a few seconds succeeds (see the feedback README).
"""

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from feedback.reference import repository
from feedback.reference.models import KnownBooking, KnownCenter, KnownOffering
from service_kit.errors import ValidationFailed
from service_kit.events.contracts import (
    BookingChanged,
    CategoryUpserted,
    CommunityUpserted,
    OfferingSnapshot,
    ProviderStatusChanged,
    ServiceCenterUpserted,
)
from service_kit.timeutil import as_aware

# What a newly created thing may take to reach feedback: said in every refusal where it is plausible.
NOT_YET = "if it was created a moment ago, try again in a few seconds"


def unknown(field: str, message: str, code: str) -> ValidationFailed:
    """A 422 naming ``field``: ``errors`` as request validation has it, ``detail`` prefixed with the field."""
    return ValidationFailed(
        f"{field}: {message}", code=code, errors=[{"field": field, "in": "body", "message": message, "type": code}]
    )


# ------------------------------------------------------------------ keeping the projections


async def store_category(session: AsyncSession, event: CategoryUpserted) -> None:
    await repository.store_category(
        session, code=event.code, parent_code=event.parent_code, name_zh=event.name_zh, version=event.version
    )


async def store_community(session: AsyncSession, event: CommunityUpserted) -> None:
    await repository.store_community(
        session, code=event.code, street_code=event.street_code, name_zh=event.name_zh, version=event.version
    )


async def store_center(session: AsyncSession, event: ServiceCenterUpserted) -> None:
    await repository.store_center(
        session,
        id=event.center_id,
        name_zh=event.name_zh,
        operator_id=event.operator_id,
        communities=list(event.communities),
        version=event.version,
    )


async def store_provider(session: AsyncSession, event: ProviderStatusChanged, as_of: datetime) -> None:
    await repository.store_provider(
        session, id=event.provider_id, name=event.name[:200], status=event.status[:20], as_of=as_aware(as_of)
    )


async def store_offering(session: AsyncSession, event: OfferingSnapshot) -> None:
    await repository.store_offering(
        session, id=event.offering_id, provider_id=event.provider_id, status=event.status, version=event.version
    )


async def store_booking(session: AsyncSession, event: BookingChanged) -> None:
    await repository.store_booking(
        session,
        booking_id=event.booking_id,
        resident_id=event.resident_id,
        provider_id=event.provider_id,
        offering_id=event.offering_id,
        status=event.status[:20],
        as_of=as_aware(event.occurred_at),
    )


# ------------------------------------------------------------------ the rules


async def require_category(session: AsyncSession, code: str, *, field: str = "category_code") -> None:
    if await repository.category(session, code) is None:
        raise unknown(field, f"No category {code!r} in the taxonomy (yet: {NOT_YET}).", "unknown_category")


async def require_community(session: AsyncSession, code: str, *, field: str = "community_code") -> None:
    if await repository.community(session, code) is None:
        raise unknown(field, f"No community {code!r} in the gazetteer (yet: {NOT_YET}).", "unknown_community")


async def require_provider(session: AsyncSession, provider_id: uuid.UUID, *, field: str) -> None:
    if await repository.provider(session, provider_id) is None:
        raise unknown(field, f"No verified provider with this id (yet: {NOT_YET}).", "unknown_provider")


async def require_center(session: AsyncSession, center_id: uuid.UUID, *, field: str = "target_id") -> KnownCenter:
    center = await repository.center(session, center_id)
    if center is None:
        raise unknown(field, f"No service center with this id (yet: {NOT_YET}).", "unknown_center")
    return center


async def require_offering(session: AsyncSession, offering_id: uuid.UUID, *, field: str = "target_id") -> KnownOffering:
    offering = await repository.offering(session, offering_id)
    if offering is None:
        raise unknown(field, f"No published offering with this id (yet: {NOT_YET}).", "unknown_offering")
    return offering


async def require_booking_of(
    session: AsyncSession, booking_id: uuid.UUID, resident_id: uuid.UUID, *, field: str = "target_id"
) -> KnownBooking:
    """The resident's booking. Someone else's is refused as if it did not exist: nothing leaks."""
    booking = await repository.booking(session, booking_id)
    if booking is None or booking.resident_id != resident_id:
        raise unknown(field, f"No booking of this resident with this id (yet: {NOT_YET}).", "unknown_booking")
    return booking
