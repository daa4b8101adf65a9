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


async def _applicable_programs(
    session: AsyncSession, offering_id: uuid.UUID, provider_id: uuid.UUID, on: date, resident_tags: Iterable[str]
) -> list[FundedProgram]:
    """Programs that would fund ``offering_id`` on ``on`` for a resident with ``resident_tags`` (a program
    without tags funds everyone), cheapest for the resident first; none while the provider is sanctioned."""
    if await repository.is_sanctioned(session, provider_id):
        # Procurement sanctioned the provider: no contract pays for its services until it is restored.
        return []
    tags = set(resident_tags)
    return [
        program
        for program in await repository.list_funding_for(session, offering_id, on)
        if not program.eligibility_tags or set(program.eligibility_tags) & tags
    ]


async def draw_funding(
    session: AsyncSession, offering_id: uuid.UUID, provider_id: uuid.UUID, on: date, resident_tags: Iterable[str]
) -> FundedProgram | None:
    """Draw one unit of quota from the first applicable program (see ``_applicable_programs``). None when no
    program applies or all applicable quotas are used up: the booking then goes ahead at the offering's price."""
    for program in await _applicable_programs(session, offering_id, provider_id, on, resident_tags):
        if await repository.draw_quota(session, program.id):
            return program
    return None


async def peek_funding(
    session: AsyncSession, offering_id: uuid.UUID, provider_id: uuid.UUID, on: date, resident_tags: Iterable[str]
) -> FundedProgram | None:
    """The program a booking would draw from right now, without drawing (a quote for the caller)."""
    programs = await _applicable_programs(session, offering_id, provider_id, on, resident_tags)
    return next((program for program in programs if program.used < program.quota), None)


async def release_funding(session: AsyncSession, program_id: uuid.UUID) -> None:
    await repository.release_quota(session, program_id)
