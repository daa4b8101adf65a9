import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts.models import Account


async def get(session: AsyncSession, account_id: uuid.UUID) -> Account | None:
    return await session.get(Account, account_id)


async def get_by_username(session: AsyncSession, username: str) -> Account | None:
    result = await session.execute(select(Account).where(Account.username == username))
    return result.scalar_one_or_none()


async def add(session: AsyncSession, account: Account) -> Account:
    session.add(account)
    await session.flush()
    return account


async def set_values(session: AsyncSession, account_id: uuid.UUID, **values: Any) -> None:
    await session.execute(update(Account).where(Account.id == account_id).values(**values))


async def ids_naming(session: AsyncSession, resident_id: uuid.UUID) -> Sequence[uuid.UUID]:
    """The accounts that name the resident record ``resident_id``."""
    return (await session.scalars(select(Account.id).where(Account.resident_id == resident_id))).all()


async def resident_ids(session: AsyncSession) -> list[uuid.UUID]:
    """The resident records the accounts name (one per account that names one)."""
    named = await session.scalars(select(Account.resident_id).where(Account.resident_id.is_not(None)))
    return [resident_id for resident_id in named.all() if resident_id is not None]
