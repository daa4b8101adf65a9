"""Every SQL statement of the refresh tokens."""

import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.models import RefreshToken


async def add(session: AsyncSession, token: RefreshToken) -> RefreshToken:
    session.add(token)
    await session.flush()
    return token


async def by_hash(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    query = select(RefreshToken).where(RefreshToken.token_hash == token_hash)
    return (await session.execute(query)).scalar_one_or_none()


async def spend(session: AsyncSession, token_id: uuid.UUID, now: datetime) -> bool:
    """Mark the token used at ``now`` unless it is used or revoked already; whether this call marked it."""
    spent = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None))
        .values(used_at=now)
    )
    return bool(spent.rowcount == 1)  # type: ignore[attr-defined]


async def revoke_family(session: AsyncSession, family_id: uuid.UUID, now: datetime) -> None:
    """Revoke, at ``now``, every token of the family not revoked yet."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def delete_of_account(session: AsyncSession, account_id: uuid.UUID) -> None:
    await session.execute(delete(RefreshToken).where(RefreshToken.account_id == account_id))


async def delete_of_resident_identity(session: AsyncSession, identity_id: uuid.UUID) -> None:
    await session.execute(delete(RefreshToken).where(RefreshToken.resident_identity_id == identity_id))
