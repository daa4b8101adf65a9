"""What the rest of the booking service asks of the catalog projections."""

import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from booking.catalog import repository
from booking.catalog.models import CatalogOffering, FundedProgram


async def get_offering(session: AsyncSession, offering_id: uuid.UUID) -> CatalogOffering | None:
    return await repository.get_offering(session, offering_id)


async def offerings_by_id(session: AsyncSession, offering_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, CatalogOffering]:
    return await repository.offerings_by_id(session, list(dict.fromkeys(offering_ids)))


async def why_not_bookable(session: AsyncSession, offering: CatalogOffering) -> str | None:
    """None when the offering takes bookings; otherwise the reason, for the client."""
    if offering.status != "published":
        return _not_bookable(offering, None)
    provider = await repository.get_provider(session, offering.provider_id)
    return _not_bookable(offering, provider.accepts_bookings if provider is not None else None)


def _not_bookable(offering: CatalogOffering, provider_accepts: bool | None) -> str | None:
    if offering.status != "published":
        return "offering_withdrawn" if offering.status == "withdrawn" else "offering_not_published"
    # A published offering implies a verified provider; only a later suspension stops it.
    if provider_accepts is False:
        return "provider_suspended"
    return None


async def offering_to_book(session: AsyncSession, offering_id: uuid.UUID) -> tuple[CatalogOffering | None, str | None]:
    """The offering and ``why_not_bookable``'s answer for it, in one query (the booking path's)."""
    offering, provider_accepts = await repository.offering_and_provider_accepts(session, offering_id)
    return offering, (_not_bookable(offering, provider_accepts) if offering is not None else None)


def applicable_programs(programs: Sequence[FundedProgram], resident_tags: Iterable[str]) -> list[FundedProgram]:
    """Those of ``programs`` (``programs_funding`` an offering on a day) that would fund a resident with
    ``resident_tags`` (a program without tags funds everyone), in their order: cheapest for the resident first. A
    sanction of the provider changes nothing here: it bars new awards, and the contracts it already holds fund
    their residents until they end. The resident's personal entitlements are ``booking.entitlements``'s."""
    tags = set(resident_tags)
    return [program for program in programs if not program.eligibility_tags or set(program.eligibility_tags) & tags]


async def programs_funding(session: AsyncSession, offering_id: uuid.UUID, on: date) -> Sequence[FundedProgram]:
    """Every active programme funding the offering on ``on``, whoever it is for."""
    return await repository.list_funding_for(session, offering_id, on)


async def programs_funding_between(
    session: AsyncSession, offering_id: uuid.UUID, first: date, last: date
) -> Sequence[FundedProgram]:
    """Every active programme funding the offering on a date of ``first`` … ``last``, cheapest first."""
    return await repository.list_funding_between(session, offering_id, first, last)


async def lock_pool(session: AsyncSession, program_id: uuid.UUID) -> int:
    return await repository.lock_pool(session, program_id)


async def draw_quota_units(session: AsyncSession, program_id: uuid.UUID, units: int) -> bool:
    return await repository.draw_quota_units(session, program_id, units)


async def draw_quota(session: AsyncSession, program_id: uuid.UUID) -> bool:
    return await repository.draw_quota(session, program_id)


async def pool_left_locked(session: AsyncSession, program_id: uuid.UUID) -> int:
    return await repository.pool_left_locked(session, program_id)


async def get_program(session: AsyncSession, program_id: uuid.UUID) -> FundedProgram | None:
    return await repository.get_program(session, program_id)


async def get_funded_program(
    session: AsyncSession, contract_id: uuid.UUID, offering_id: uuid.UUID
) -> FundedProgram | None:
    return await repository.get_funded_program(session, contract_id, offering_id)


async def set_entitlement(
    session: AsyncSession, contract_id: uuid.UUID, offering_id: uuid.UUID, values: dict[str, Any]
) -> FundedProgram | None:
    return await repository.set_entitlement(session, contract_id, offering_id, values)


async def programs_with_entitlement(session: AsyncSession, on: date) -> Sequence[tuple[FundedProgram, CatalogOffering]]:
    return await repository.programs_with_entitlement(session, on)


async def lock_programs(session: AsyncSession, program_ids: Sequence[uuid.UUID]) -> None:
    await repository.lock_programs(session, program_ids)


async def release_funding(session: AsyncSession, program_id: uuid.UUID) -> None:
    await repository.release_quota(session, program_id)


async def active_programs_of(
    session: AsyncSession, contract_id: uuid.UUID, *, except_offering_ids: Sequence[uuid.UUID] = ()
) -> list[FundedProgram]:
    return await repository.active_programs_of(session, contract_id, except_offering_ids=except_offering_ids)


async def programs_past_their_end(session: AsyncSession, today: date, limit: int) -> Sequence[uuid.UUID]:
    return await repository.past_their_end(session, today, limit)


async def end_program(session: AsyncSession, program_id: uuid.UUID, today: date) -> FundedProgram | None:
    return await repository.end_program(session, program_id, today)


async def funded_alternatives(
    session: AsyncSession, category_code: str, on: date, *, except_contract_id: uuid.UUID
) -> Sequence[tuple[FundedProgram, CatalogOffering]]:
    """What another contract funds in the same category on ``on`` (eligibility and place are the caller's)."""
    return await repository.funded_offerings_of_category(
        session, category_code, on, except_contract_id=except_contract_id
    )
