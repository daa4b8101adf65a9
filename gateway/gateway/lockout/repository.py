"""Every SQL statement of the failed sign-ins."""

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.lockout.models import SignInLockout


def _of(kind: str, subject: str) -> Select[SignInLockout]:
    return select(SignInLockout).where(SignInLockout.kind == kind, SignInLockout.subject == subject)


async def get(session: AsyncSession, kind: str, subject: str) -> SignInLockout | None:
    return (await session.execute(_of(kind, subject))).scalar_one_or_none()


async def lock(session: AsyncSession, kind: str, subject: str, *, create: bool) -> SignInLockout | None:
    """The target's row, locked for this transaction (PostgreSQL; SQLite has one writer at a time anyway); with
    ``create``, a row that counts nothing yet is made for a target that has none."""
    query = _of(kind, subject).with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    if row is not None or not create:
        return row
    try:
        async with session.begin_nested():
            session.add(SignInLockout(kind=kind, subject=subject, failures=0, lockouts=0))
    except IntegrityError:  # another request's failure created it a moment ago
        pass
    return (await session.execute(query)).scalar_one()
