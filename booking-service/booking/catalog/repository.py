"""Every SQL statement of the catalog projections."""

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.catalog.models import (
    CatalogOffering,
    CatalogProvider,
    ContractProjection,
    FundedProgram,
    ProviderSanction,
)
from service_kit.db import upsert
from service_kit.timeutil import utcnow


async def _store_unless_newer(
    session: AsyncSession, table: Any, values: dict[str, Any], *, key: Any, order: Any
) -> None:
    """Insert or update the row keyed by ``key`` unless the stored one is newer by ``order`` (events may arrive out
    of order; the later fact wins whatever the delivery order)."""
    now = utcnow()
    row = {**values, "created_at": now, "updated_at": now}
    changes = {k: v for k, v in row.items() if k not in (key.name, "created_at")}
    statement = upsert(session, table).values(**row)
    statement = statement.on_conflict_do_update(
        index_elements=[key], set_=changes, where=order <= getattr(statement.excluded, order.name)
    )
    await session.execute(statement)


async def upsert_offering(session: AsyncSession, values: dict[str, Any]) -> None:
    """Store an offering snapshot unless a newer version is already stored."""
    table = CatalogOffering.__table__
    await _store_unless_newer(session, table, values, key=table.c.id, order=table.c.version)


async def get_offering(session: AsyncSession, offering_id: uuid.UUID) -> CatalogOffering | None:
    return await session.get(CatalogOffering, offering_id)


async def offering_and_provider_accepts(
    session: AsyncSession, offering_id: uuid.UUID
) -> tuple[CatalogOffering | None, bool | None]:
    """The offering, and whether its provider accepts bookings (None when the provider is not known here), in one
    query."""
    row = (await session.execute(_OFFERING_AND_PROVIDER, {"offering_id": offering_id})).first()
    return (None, None) if row is None else (row[0], row[1])


# Read by every booking: built once, the offering sent as a parameter.
_OFFERING_AND_PROVIDER = (
    select(CatalogOffering, CatalogProvider.accepts_bookings)
    .outerjoin(CatalogProvider, CatalogProvider.id == CatalogOffering.provider_id)
    .where(CatalogOffering.id == bindparam("offering_id"))
)


async def offerings_by_id(session: AsyncSession, offering_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, CatalogOffering]:
    """The snapshots of ``offering_ids``, in one query (a page of bookings names its services at once)."""
    if not offering_ids:
        return {}
    result = await session.execute(select(CatalogOffering).where(CatalogOffering.id.in_(list(offering_ids))))
    return {offering.id: offering for offering in result.scalars().all()}


async def upsert_provider(session: AsyncSession, values: dict[str, Any]) -> None:
    """Store a provider's status unless a later status change is already stored."""
    table = CatalogProvider.__table__
    await _store_unless_newer(session, table, values, key=table.c.id, order=table.c.as_of)


async def get_provider(session: AsyncSession, provider_id: uuid.UUID) -> CatalogProvider | None:
    return await session.get(CatalogProvider, provider_id)


async def contract_status(session: AsyncSession, contract_id: uuid.UUID) -> str | None:
    """The contract's status as its latest applied event gave it; None before any."""
    return await session.scalar(select(ContractProjection.status).where(ContractProjection.contract_id == contract_id))


async def claim_contract_event(session: AsyncSession, contract_id: uuid.UUID, *, status: str, as_of: datetime) -> bool:
    """Record that the contract's event of ``as_of`` is being applied; False when a later event of the contract was
    applied already (this one is stale and must change nothing). The guarded write holds the contract's row until
    commit, so two handlers of its events apply them one after the other."""
    table = ContractProjection.__table__
    values = {"contract_id": contract_id, "status": status, "as_of": as_of}
    await _store_unless_newer(session, table, values, key=table.c.contract_id, order=table.c.as_of)
    stored = await session.scalar(select(ContractProjection.as_of).where(ContractProjection.contract_id == contract_id))
    return stored is not None and stored <= as_of


async def upsert_funded_program(session: AsyncSession, values: dict[str, Any]) -> None:
    """Create or refresh one funded offering of a contract; ``used`` (quota already drawn) is kept."""
    table = FundedProgram.__table__
    now = utcnow()
    row = {**values, "id": uuid.uuid4(), "used": 0, "created_at": now, "updated_at": now}
    changes = {k: v for k, v in row.items() if k not in ("id", "used", "created_at", "contract_id", "offering_id")}
    statement = upsert(session, table).values(**row)
    statement = statement.on_conflict_do_update(index_elements=[table.c.contract_id, table.c.offering_id], set_=changes)
    await session.execute(statement)


async def deactivate_funded_programs(
    session: AsyncSession,
    contract_id: uuid.UUID,
    *,
    as_of: datetime,
    contract_status: str,
    keep_offering_ids: Sequence[uuid.UUID] = (),
) -> None:
    """Stop funding the contract's offerings, except ``keep_offering_ids`` (those an amendment still funds)."""
    statement = (
        update(FundedProgram)
        .where(FundedProgram.contract_id == contract_id)
        .values(active=False, contract_status=contract_status, as_of=as_of, updated_at=utcnow())
    )
    if keep_offering_ids:
        statement = statement.where(FundedProgram.offering_id.not_in(list(keep_offering_ids)))
    await session.execute(statement)


async def list_funding_for(session: AsyncSession, offering_id: uuid.UUID, on: date) -> Sequence[FundedProgram]:
    """Active programs funding ``offering_id`` on the date ``on``, cheapest for the resident first."""
    return (await session.scalars(_FUNDING_FOR, {"offering_id": offering_id, "on": on})).all()


# Read by every booking: built once, the offering and date sent as parameters.
_FUNDING_FOR = (
    select(FundedProgram)
    .where(
        FundedProgram.offering_id == bindparam("offering_id"),
        FundedProgram.active.is_(True),
        FundedProgram.start_date <= bindparam("on"),
        FundedProgram.end_date >= bindparam("on"),
    )
    .order_by(FundedProgram.resident_price_fen, FundedProgram.start_date, FundedProgram.contract_id)
)


async def list_funding_between(
    session: AsyncSession, offering_id: uuid.UUID, first: date, last: date
) -> Sequence[FundedProgram]:
    """Active programs funding ``offering_id`` on any date of ``first`` … ``last``, in ``list_funding_for``'s
    order: filtered by a date, the list ``list_funding_for`` gives for it."""
    result = await session.execute(
        select(FundedProgram)
        .where(
            FundedProgram.offering_id == offering_id,
            FundedProgram.active.is_(True),
            FundedProgram.start_date <= last,
            FundedProgram.end_date >= first,
        )
        .order_by(FundedProgram.resident_price_fen, FundedProgram.start_date, FundedProgram.contract_id)
    )
    return result.scalars().all()


async def set_entitlement(
    session: AsyncSession, contract_id: uuid.UUID, offering_id: uuid.UUID, values: dict[str, Any]
) -> FundedProgram | None:
    await session.execute(
        update(FundedProgram)
        .where(FundedProgram.contract_id == contract_id, FundedProgram.offering_id == offering_id)
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return await get_funded_program(session, contract_id, offering_id)


async def programs_with_entitlement(session: AsyncSession, on: date) -> Sequence[tuple[FundedProgram, CatalogOffering]]:
    """Active programmes funding on ``on`` that give each person a set number of units per period."""
    result = await session.execute(
        select(FundedProgram, CatalogOffering)
        .join(CatalogOffering, CatalogOffering.id == FundedProgram.offering_id)
        .where(
            FundedProgram.active.is_(True),
            FundedProgram.per_person_units.is_not(None),
            FundedProgram.start_date <= on,
            FundedProgram.end_date >= on,
        )
        .order_by(CatalogOffering.category_code, FundedProgram.offering_id, FundedProgram.contract_id)
    )
    return [(program, offering) for program, offering in result.all()]


async def draw_quota(session: AsyncSession, program_id: uuid.UUID) -> bool:
    """Take one unit of a program's quota; False when it is used up (a guarded write: never exceeds it)."""
    return _rowcount(await session.execute(_DRAW_ONE, {"program_id": program_id})) == 1


# Every funded booking's draw, built once on the table (no ORM bulk update to prepare); ``updated_at`` is set by
# the column's own ``onupdate``.
_pools = cast(Table, FundedProgram.__table__)
_DRAW_ONE = (
    update(_pools)
    .where(_pools.c.id == bindparam("program_id"), _pools.c.active.is_(True), _pools.c.used < _pools.c.quota)
    .values(used=_pools.c.used + 1)
)


async def lock_pool(session: AsyncSession, program_id: uuid.UUID) -> int:
    """The units left of an active program's quota, read under its row's write lock (held to the commit): what
    ``draw_quota_units`` may then take. 0 when the program no longer funds."""
    left = await session.scalar(
        update(FundedProgram)
        .where(FundedProgram.id == program_id, FundedProgram.active.is_(True))
        .values(used=FundedProgram.used)
        .returning(FundedProgram.quota - FundedProgram.used)
        .execution_options(synchronize_session=False)
    )
    return max(int(left or 0), 0)


async def draw_quota_units(session: AsyncSession, program_id: uuid.UUID, units: int) -> bool:
    """Take ``units`` of a program's quota at once; False (nothing taken) when fewer are left."""
    result = await session.execute(
        update(FundedProgram)
        .where(
            FundedProgram.id == program_id,
            FundedProgram.active.is_(True),
            FundedProgram.used + units <= FundedProgram.quota,
        )
        .values(used=FundedProgram.used + units)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def lock_programs(session: AsyncSession, program_ids: Sequence[uuid.UUID]) -> None:
    """Hold the programmes' rows (their pools) until the commit, in id order, active or not: a release that
    follows takes no lock the caller does not hold already."""
    for program_id in sorted(set(program_ids)):
        await session.execute(
            update(FundedProgram)
            .where(FundedProgram.id == program_id)
            .values(used=FundedProgram.used)
            .execution_options(synchronize_session=False)
        )


async def release_quota(session: AsyncSession, program_id: uuid.UUID) -> None:
    await session.execute(
        update(FundedProgram)
        .where(FundedProgram.id == program_id, FundedProgram.used > 0)
        .values(used=FundedProgram.used - 1)
        .execution_options(synchronize_session=False)
    )


async def pool_left_locked(session: AsyncSession, program_id: uuid.UUID) -> int:
    """The program's units left, read under its row's write lock (held to the commit): a release racing the
    caller is either seen or comes after it."""
    await session.execute(
        update(FundedProgram)
        .where(FundedProgram.id == program_id)
        .values(used=FundedProgram.used)
        .execution_options(synchronize_session=False)
    )
    left = await session.scalar(select(FundedProgram.quota - FundedProgram.used).where(FundedProgram.id == program_id))
    return int(left or 0)


async def get_program(session: AsyncSession, program_id: uuid.UUID) -> FundedProgram | None:
    result = await session.execute(
        select(FundedProgram).where(FundedProgram.id == program_id).execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def get_funded_program(
    session: AsyncSession, contract_id: uuid.UUID, offering_id: uuid.UUID
) -> FundedProgram | None:
    result = await session.execute(
        select(FundedProgram)
        .where(FundedProgram.contract_id == contract_id, FundedProgram.offering_id == offering_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


async def upsert_sanction(session: AsyncSession, values: dict[str, Any]) -> None:
    """Store a provider's sanction standing unless a later sanction event is already stored."""
    table = ProviderSanction.__table__
    await _store_unless_newer(session, table, values, key=table.c.provider_id, order=table.c.as_of)


async def is_sanctioned(session: AsyncSession, provider_id: uuid.UUID) -> bool:
    result = await session.scalar(
        select(ProviderSanction.sanctioned).where(ProviderSanction.provider_id == provider_id)
    )
    return bool(result)


async def active_programs_of(
    session: AsyncSession, contract_id: uuid.UUID, *, except_offering_ids: Sequence[uuid.UUID] = ()
) -> list[FundedProgram]:
    """The contract's programs still funding, except those of ``except_offering_ids``."""
    query = select(FundedProgram).where(FundedProgram.contract_id == contract_id, FundedProgram.active.is_(True))
    if except_offering_ids:
        query = query.where(FundedProgram.offering_id.not_in(list(except_offering_ids)))
    result = await session.execute(query.order_by(FundedProgram.offering_id))
    return list(result.scalars().all())


async def past_their_end(session: AsyncSession, today: date, limit: int) -> Sequence[uuid.UUID]:
    """Programs still marked active whose contract's last day is before ``today``, earliest end first."""
    result = await session.execute(
        select(FundedProgram.id)
        .where(FundedProgram.active.is_(True), FundedProgram.end_date < today)
        .order_by(FundedProgram.end_date, FundedProgram.id)
        .limit(limit)
    )
    return result.scalars().all()


async def end_program(session: AsyncSession, program_id: uuid.UUID, today: date) -> FundedProgram | None:
    """Mark a program past its last day ended; None when another sweep (or an amendment) got there first (a
    guarded write: only one of racing sweeps ends it)."""
    result = await session.execute(
        update(FundedProgram)
        .where(FundedProgram.id == program_id, FundedProgram.active.is_(True), FundedProgram.end_date < today)
        .values(active=False, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) != 1:
        return None
    return await session.get(FundedProgram, program_id, populate_existing=True)


async def funded_offerings_of_category(
    session: AsyncSession, category_code: str, on: date, *, except_contract_id: uuid.UUID
) -> Sequence[tuple[FundedProgram, CatalogOffering]]:
    """Published offerings of ``category_code`` that another active contract funds on ``on`` with quota left, of
    providers taking bookings."""
    result = await session.execute(
        select(FundedProgram, CatalogOffering)
        .join(CatalogOffering, CatalogOffering.id == FundedProgram.offering_id)
        .outerjoin(CatalogProvider, CatalogProvider.id == CatalogOffering.provider_id)
        .where(
            CatalogOffering.category_code == category_code,
            CatalogOffering.status == "published",
            FundedProgram.active.is_(True),
            FundedProgram.contract_id != except_contract_id,
            FundedProgram.start_date <= on,
            FundedProgram.end_date >= on,
            FundedProgram.used < FundedProgram.quota,
            # A provider the registry never announced is taken as verified (it published the offering).
            CatalogProvider.accepts_bookings.is_not(False),
        )
        .order_by(FundedProgram.resident_price_fen, CatalogOffering.id)
    )
    return [(program, offering) for program, offering in result.all()]
