"""Every SQL statement of personal entitlements: evidence, re-checks, and the per-person usage counters."""

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import bindparam, case, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from booking.entitlements.models import EligibilityEvidence, EligibilityRecheck, EntitlementUsage
from service_kit.db import UpsertOnce, reassign, upsert
from service_kit.pagination import fetch_page


async def evidence_of(session: AsyncSession, resident_id: uuid.UUID) -> dict[str, EligibilityEvidence]:
    result = await session.scalars(_EVIDENCE_OF, {"resident_id": resident_id})
    return {row.tag: row for row in result.all()}


# Read by every funded booking: built once, the resident sent as a parameter.
_EVIDENCE_OF = select(EligibilityEvidence).where(EligibilityEvidence.resident_id == bindparam("resident_id"))


async def put_evidence(session: AsyncSession, values: dict[str, Any]) -> None:
    """Record (or replace) the evidence of one tag of one resident."""
    statement = upsert(session, EligibilityEvidence).values(**values)
    changes = {k: statement.excluded[k] for k in values if k not in ("id", "resident_id", "tag", "created_at")}
    await session.execute(statement.on_conflict_do_update(index_elements=["resident_id", "tag"], set_=changes))


async def drop_evidence(session: AsyncSession, resident_id: uuid.UUID, tag: str) -> None:
    await session.execute(
        delete(EligibilityEvidence).where(
            EligibilityEvidence.resident_id == resident_id, EligibilityEvidence.tag == tag
        )
    )


async def forget_resident(session: AsyncSession, resident_id: uuid.UUID) -> None:
    for table in (EligibilityEvidence, EligibilityRecheck):
        await session.execute(delete(table).where(table.resident_id == resident_id))


async def expiring(session: AsyncSession, until: date, limit: int) -> Sequence[EligibilityEvidence]:
    """Evidence that expires on or before ``until`` with no re-check opened for that expiry yet."""
    opened = select(EligibilityRecheck.id).where(
        EligibilityRecheck.resident_id == EligibilityEvidence.resident_id,
        EligibilityRecheck.tag == EligibilityEvidence.tag,
        EligibilityRecheck.expires_on == EligibilityEvidence.expires_on,
    )
    result = await session.execute(
        select(EligibilityEvidence)
        .where(EligibilityEvidence.expires_on.is_not(None), EligibilityEvidence.expires_on <= until, ~opened.exists())
        .order_by(EligibilityEvidence.expires_on, EligibilityEvidence.id)
        .limit(limit)
    )
    return result.scalars().all()


async def open_recheck(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Open a re-check unless one exists for this tag and expiry (a second sweep adds nothing): True if opened."""
    statement = upsert(session, EligibilityRecheck).values(**values)
    result = await session.execute(
        statement.on_conflict_do_nothing(index_elements=["resident_id", "tag", "expires_on"])
    )
    return int(getattr(result, "rowcount", 0)) == 1


async def rechecks(
    session: AsyncSession, *, open_only: bool, limit: int, offset: int
) -> tuple[Sequence[EligibilityRecheck], int]:
    query = select(EligibilityRecheck)
    if open_only:
        query = query.where(EligibilityRecheck.closed_at.is_(None))
    query = query.order_by(EligibilityRecheck.expires_on, EligibilityRecheck.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def get_recheck(session: AsyncSession, recheck_id: uuid.UUID) -> EligibilityRecheck | None:
    return await session.get(EligibilityRecheck, recheck_id)


async def close_recheck(session: AsyncSession, recheck_id: uuid.UUID, values: dict[str, Any]) -> bool:
    """Close an open re-check (a guarded write: of two racing closes, one wins)."""
    result = await session.execute(
        update(EligibilityRecheck)
        .where(EligibilityRecheck.id == recheck_id, EligibilityRecheck.closed_at.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0)) == 1


async def used(session: AsyncSession, program_id: uuid.UUID, resident_id: uuid.UUID, period_start: date) -> int:
    value = await session.scalar(
        select(EntitlementUsage.used).where(
            EntitlementUsage.program_id == program_id,
            EntitlementUsage.resident_id == resident_id,
            EntitlementUsage.period_start == period_start,
        )
    )
    return int(value or 0)


async def used_by_program(
    session: AsyncSession, resident_id: uuid.UUID, period_starts: dict[uuid.UUID, date]
) -> dict[uuid.UUID, int]:
    """What the resident used of each programme in its current period (one query for the resident's card)."""
    if not period_starts:
        return {}
    result = await session.execute(
        select(EntitlementUsage.program_id, EntitlementUsage.period_start, EntitlementUsage.used).where(
            EntitlementUsage.resident_id == resident_id, EntitlementUsage.program_id.in_(list(period_starts))
        )
    )
    return {row.program_id: int(row.used) for row in result if period_starts.get(row.program_id) == row.period_start}


async def draw(
    session: AsyncSession, program_id: uuid.UUID, resident_id: uuid.UUID, period_start: date, units: int, limit: int
) -> bool:
    """Take ``units`` of the resident's entitlement for the period; False when that would exceed ``limit``. One
    statement: the counter row is made holding the units, or taken by a guarded write (``used + units <= limit``)
    that the database applies under the row's lock: concurrent bookings never hold more than ``limit`` together."""
    key = {"program_id": program_id, "resident_id": resident_id, "period_start": period_start}
    if units <= limit:
        taken = await session.execute(_draw(session), {**key, "used": units, "units": units, "limit": limit})
        return taken.first() is not None
    # More units than the allowance: never taken, and the counter row is made as before (``used`` reads it).
    await session.execute(
        upsert(session, EntitlementUsage)
        .values(**key, used=0)
        .on_conflict_do_nothing(index_elements=["program_id", "resident_id", "period_start"])
    )
    result = await session.execute(
        update(EntitlementUsage)
        .where(*(getattr(EntitlementUsage, k) == v for k, v in key.items()), EntitlementUsage.used + units <= limit)
        .values(used=EntitlementUsage.used + units)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0)) == 1


# Every funded booking's draw, built once: the counter row and the units and limit go as parameters.
_usage = EntitlementUsage.__table__
_draw = UpsertOnce(
    _usage,
    lambda insert: insert.on_conflict_do_update(
        index_elements=[_usage.c.program_id, _usage.c.resident_id, _usage.c.period_start],
        set_={"used": _usage.c.used + bindparam("units")},
        where=_usage.c.used + bindparam("units") <= bindparam("limit"),
    ).returning(_usage.c.used),
)


async def release(
    session: AsyncSession, program_id: uuid.UUID, resident_id: uuid.UUID, period_start: date, units: int
) -> None:
    await session.execute(
        update(EntitlementUsage)
        .where(
            EntitlementUsage.program_id == program_id,
            EntitlementUsage.resident_id == resident_id,
            EntitlementUsage.period_start == period_start,
            EntitlementUsage.used >= units,
        )
        .values(used=EntitlementUsage.used - units)
        .execution_options(synchronize_session=False)
    )


async def move_evidence(session: AsyncSession, evidence_id: uuid.UUID, to_id: uuid.UUID) -> None:
    await session.execute(
        update(EligibilityEvidence)
        .where(EligibilityEvidence.id == evidence_id)
        .values(resident_id=to_id)
        .execution_options(synchronize_session=False)
    )


async def drop_evidence_row(session: AsyncSession, evidence_id: uuid.UUID) -> None:
    await session.execute(delete(EligibilityEvidence).where(EligibilityEvidence.id == evidence_id))


async def drop_open_rechecks(session: AsyncSession, resident_id: uuid.UUID, tag: str, expires_on: date) -> None:
    """Open re-checks of evidence that no longer stands (a later one replaced it) are nobody's task."""
    await session.execute(
        delete(EligibilityRecheck).where(
            EligibilityRecheck.resident_id == resident_id,
            EligibilityRecheck.tag == tag,
            EligibilityRecheck.expires_on == expires_on,
            EligibilityRecheck.closed_at.is_(None),
        )
    )


async def move_rechecks(session: AsyncSession, from_id: uuid.UUID, to_id: uuid.UUID) -> None:
    """Give ``from_id``'s re-checks to ``to_id``; one the survivor already has (same tag and expiry) is dropped."""
    theirs = aliased(EligibilityRecheck)
    await session.execute(
        delete(EligibilityRecheck).where(
            EligibilityRecheck.resident_id == from_id,
            select(theirs.id)
            .where(
                theirs.resident_id == to_id,
                theirs.tag == EligibilityRecheck.tag,
                theirs.expires_on == EligibilityRecheck.expires_on,
            )
            .exists(),
        )
    )
    await reassign(session, EligibilityRecheck.resident_id, from_id, to_id)


async def usage_of(session: AsyncSession, resident_id: uuid.UUID) -> Sequence[EntitlementUsage]:
    result = await session.execute(select(EntitlementUsage).where(EntitlementUsage.resident_id == resident_id))
    return result.scalars().all()


async def add_usage(
    session: AsyncSession, program_id: uuid.UUID, resident_id: uuid.UUID, period_start: date, units: int
) -> None:
    """Add ``units`` to what the resident has drawn in the period (no limit: units already drawn are facts)."""
    statement = upsert(session, EntitlementUsage).values(
        program_id=program_id, resident_id=resident_id, period_start=period_start, used=units
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["program_id", "resident_id", "period_start"],
            set_={"used": EntitlementUsage.used + statement.excluded.used},
        )
    )


async def drop_usage(session: AsyncSession, resident_id: uuid.UUID) -> None:
    await session.execute(delete(EntitlementUsage).where(EntitlementUsage.resident_id == resident_id))


async def lock_usage(
    session: AsyncSession, program_id: uuid.UUID, resident_id: uuid.UUID, period_starts: Sequence[date]
) -> dict[date, int]:
    """The resident's units used of the programme in each period, each counter row made if missing and read under
    its write lock (held to the commit), in one statement: what ``take_usage`` may then take."""
    starts = sorted(set(period_starts))
    if not starts:
        return {}
    table = EntitlementUsage.__table__
    rows = [
        {"program_id": program_id, "resident_id": resident_id, "period_start": start, "used": 0} for start in starts
    ]
    statement = upsert(session, table, rows)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.program_id, table.c.resident_id, table.c.period_start],
        set_={"used": table.c.used},
    ).returning(table.c.period_start, table.c.used)
    return {row.period_start: int(row.used) for row in await session.execute(statement)}


async def take_usage(
    session: AsyncSession, program_id: uuid.UUID, resident_id: uuid.UUID, units: dict[date, int], limit: int
) -> bool:
    """Take ``units`` of each period's entitlement in one guarded write (none exceeding ``limit``); False when
    a period would exceed it: the caller undoes its transaction (under ``lock_usage``'s locks it never does)."""
    if not units:
        return True
    added = case(units, value=EntitlementUsage.period_start, else_=0)
    result = await session.execute(
        update(EntitlementUsage)
        .where(
            EntitlementUsage.program_id == program_id,
            EntitlementUsage.resident_id == resident_id,
            EntitlementUsage.period_start.in_(list(units)),
            EntitlementUsage.used + added <= limit,
        )
        .values(used=EntitlementUsage.used + added)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0)) == len(units)
