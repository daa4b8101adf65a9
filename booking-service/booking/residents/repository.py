"""Every SQL statement of the residents module."""

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from booking.residents.models import Resident, ResidentLink
from service_kit.pagination import fetch_page


async def add(session: AsyncSession, resident: Resident) -> str | None:
    """Insert ``resident``; the name of the unique field already taken (``phone``, ``id_card``, ``account``),
    or None. The unique keys decide, even when two registrations race."""
    try:
        async with session.begin_nested():
            session.add(resident)
            await session.flush()
    except IntegrityError as exc:
        return _taken(exc)
    return None


async def update_fields(session: AsyncSession, resident_id: uuid.UUID, values: dict[str, Any]) -> str | None:
    """Apply a correction; the unique field it collides with, or None."""
    try:
        async with session.begin_nested():
            await session.execute(
                update(Resident)
                .where(Resident.id == resident_id, Resident.erased_at.is_(None))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
    except IntegrityError as exc:
        return _taken(exc)
    return None


def _taken(exc: IntegrityError) -> str:
    message = str(exc.orig).lower()
    if "id_card" in message:
        return "id_card"
    if "account" in message:
        return "account"
    return "phone"


async def get(session: AsyncSession, resident_id: uuid.UUID) -> Resident | None:
    return await session.get(Resident, resident_id, populate_existing=True)


async def find_by_phone(session: AsyncSession, phone: str) -> Resident | None:
    result = await session.execute(select(Resident).where(Resident.phone == phone))
    return result.scalar_one_or_none()


async def find_by_phone_suffix(
    session: AsyncSession, digits: str, *, limit: int, offset: int
) -> tuple[Sequence[Resident], int]:
    """Residents whose phone number ends with ``digits`` (an operator hears "the number ends in 5678")."""
    condition = _phone_ends_with(digits)
    query = select(Resident).where(condition).order_by(Resident.created_at, Resident.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


def _phone_ends_with(digits: str) -> Any:
    return Resident.phone.like(f"%{digits}")


def ids_by_phone(*, exact: str | None = None, suffix: str | None = None) -> Select[uuid.UUID]:
    """The ids of residents with this E.164 phone, or whose phone ends with ``suffix`` (as a subquery)."""
    condition = Resident.phone == exact if exact is not None else _phone_ends_with(suffix or "")
    return select(Resident.id).where(condition)


def reachable_ids() -> Select[uuid.UUID]:
    """The ids of residents who can be sent a message: not erased, with a phone (as a subquery)."""
    return select(Resident.id).where(Resident.erased_at.is_(None), Resident.phone.is_not(None))


async def find_by_id_card_index(session: AsyncSession, index: str) -> Resident | None:
    result = await session.execute(select(Resident).where(Resident.id_card_index == index))
    return result.scalar_one_or_none()


async def find_by_account(session: AsyncSession, subject: str) -> Resident | None:
    result = await session.execute(
        select(Resident).where(Resident.account_subject == subject, Resident.erased_at.is_(None))
    )
    return result.scalar_one_or_none()


async def get_many(session: AsyncSession, resident_ids: Iterable[uuid.UUID]) -> Sequence[Resident]:
    ids = list(set(resident_ids))
    if not ids:
        return []
    result = await session.execute(select(Resident).where(Resident.id.in_(ids)))
    return result.scalars().all()


async def link_account(session: AsyncSession, resident_id: uuid.UUID, subject: str) -> bool:
    """Link the app account ``subject`` to the resident (and to no other record): whether anything changed.

    Guarded writes, so of two sign-ins at once only one finds the link new."""
    await session.execute(
        update(Resident)
        .where(Resident.account_subject == subject, Resident.id != resident_id)
        .values(account_subject=None)
        .execution_options(synchronize_session=False)
    )
    changed = await session.execute(
        update(Resident)
        .where(
            Resident.id == resident_id,
            Resident.erased_at.is_(None),
            (Resident.account_subject.is_(None)) | (Resident.account_subject != subject),
        )
        .values(account_subject=subject)
        .execution_options(synchronize_session=False)
    )
    return bool(changed.rowcount)  # type: ignore[attr-defined]


async def add_link(session: AsyncSession, link: ResidentLink) -> None:
    session.add(link)
    await session.flush()


async def last_link(session: AsyncSession, resident_id: uuid.UUID, subject: str) -> ResidentLink | None:
    query = (
        select(ResidentLink)
        .where(ResidentLink.resident_id == resident_id, ResidentLink.account_subject == subject)
        .order_by(ResidentLink.at.desc(), ResidentLink.id)
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def links_of(session: AsyncSession, resident_id: uuid.UUID, *, limit: int) -> Sequence[ResidentLink]:
    query = select(ResidentLink).where(ResidentLink.resident_id == resident_id).order_by(ResidentLink.at.desc())
    return (await session.execute(query.limit(limit))).scalars().all()
