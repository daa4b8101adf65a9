"""What the rest of the booking service asks of the catalog projections."""

import uuid
from collections.abc import Iterable
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from booking.catalog import repository
from booking.catalog.models import CatalogOffering, FundedProgram


async def get_offering(session: AsyncSession, offering_id: uuid.UUID) -> CatalogOffering | None:
    return await repository.get_offering(session, offering_id)


async def why_not_bookable(session: AsyncSession, offering: CatalogOffering) -> str | None:
    """None when the offering takes bookings; otherwise the reason, for the client."""
    if offering.status != "published":
        return "offering_withdrawn" if offering.status == "withdrawn" else "offering_not_published"
    provider = await repository.get_provider(session, offering.provider_id)
    # A published offering implies a verified provider; only a later suspension stops it.
    if provider is not None and not provider.accepts_bookings:
        return "provider_suspended"
    return None


async def draw_funding(
    session: AsyncSession, offering_id: uuid.UUID, provider_id: uuid.UUID, on: date, resident_tags: Iterable[str]
) -> FundedProgram | None:
    """Draw one unit of quota from the first active program that funds ``offering_id`` on ``on`` for a resident
    with ``resident_tags`` (a program without tags funds everyone). None when no program applies or all
    applicable quotas are used up, or the provider is sanctioned: the booking then goes ahead at the
    offering's own price."""
    if await repository.is_sanctioned(session, provider_id):
        # Procurement sanctioned the provider: no contract pays for its services until it is restored.
        return None
    tags = set(resident_tags)
    for program in await repository.list_funding_for(session, offering_id, on):
        required = set(program.eligibility_tags)
        if required and not required & tags:
            continue
        if await repository.draw_quota(session, program.id):
            return program
    return None


async def release_funding(session: AsyncSession, program_id: uuid.UUID) -> None:
    await repository.release_quota(session, program_id)
