"""Every SQL statement of the residents' identities and their one-time codes."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.residents.models import OtpChallenge, ResidentIdentity, phone_index


async def sends_since(session: AsyncSession, phone: str, since: datetime) -> tuple[int, datetime | None]:
    """How many codes were sent to the E.164 ``phone`` after ``since``, and when the first of them was."""
    sent, oldest = (
        await session.execute(
            select(func.count(), func.min(OtpChallenge.created_at)).where(
                OtpChallenge.for_phone(session, phone), OtpChallenge.created_at > since
            )
        )
    ).one()
    return sent, oldest


async def sends_and_guesses_since(
    session: AsyncSession, phone: str, since: datetime
) -> tuple[int, int, datetime | None]:
    """How many codes were sent to the E.164 ``phone`` after ``since``, how many guesses they took, and when the
    first of them was sent."""
    sent, guessed, oldest = (
        await session.execute(
            select(
                func.count(), func.coalesce(func.sum(OtpChallenge.attempts), 0), func.min(OtpChallenge.created_at)
            ).where(OtpChallenge.for_phone(session, phone), OtpChallenge.created_at > since)
        )
    ).one()
    return sent, guessed, oldest


async def add_code(session: AsyncSession, challenge: OtpChallenge) -> OtpChallenge:
    session.add(challenge)
    await session.flush()
    return challenge


async def newest_code(session: AsyncSession, phone: str) -> OtpChallenge | None:
    """The last code sent to the E.164 ``phone``."""
    query = (
        select(OtpChallenge)
        .where(OtpChallenge.for_phone(session, phone))
        .order_by(OtpChallenge.created_at.desc(), OtpChallenge.id)
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def count_attempt(session: AsyncSession, challenge_id: uuid.UUID, *, max_attempts: int, now: datetime) -> bool:
    """Count a guess at the code unless it is used or has had ``max_attempts``; whether it was counted."""
    counted = await session.execute(
        update(OtpChallenge)
        .where(
            OtpChallenge.id == challenge_id,
            OtpChallenge.attempts < max_attempts,
            OtpChallenge.consumed_at.is_(None),
        )
        .values(attempts=OtpChallenge.attempts + 1, updated_at=now)
    )
    return bool(counted.rowcount == 1)  # type: ignore[attr-defined]


async def consume_code(session: AsyncSession, challenge_id: uuid.UUID, now: datetime) -> bool:
    """Mark the code used unless it is already; whether this call marked it."""
    consumed = await session.execute(
        update(OtpChallenge)
        .where(OtpChallenge.id == challenge_id, OtpChallenge.consumed_at.is_(None))
        .values(consumed_at=now, updated_at=now)
    )
    return bool(consumed.rowcount == 1)  # type: ignore[attr-defined]


async def delete_codes(session: AsyncSession, index: str) -> None:
    """Delete every code sent to the phone of blind index ``index``."""
    await session.execute(delete(OtpChallenge).where(OtpChallenge.phone_index == index))


async def get_identity(session: AsyncSession, identity_id: uuid.UUID) -> ResidentIdentity | None:
    return await session.get(ResidentIdentity, identity_id)


def _identity_of_index(index: str) -> Select[ResidentIdentity]:
    return select(ResidentIdentity).where(ResidentIdentity.phone_index == index)


async def identity_of_phone(session: AsyncSession, phone: str) -> ResidentIdentity | None:
    """The identity of the E.164 ``phone``."""
    return (await session.execute(_identity_of_index(phone_index(session, phone)))).scalar_one_or_none()


async def add_identity(session: AsyncSession, identity: ResidentIdentity) -> ResidentIdentity:
    """``identity``, inserted; or, when its phone signed in twice at once, the identity the other request inserted."""
    index = identity.phone_index
    try:
        async with session.begin_nested():
            session.add(identity)
    except IntegrityError:
        return (await session.execute(_identity_of_index(index))).scalar_one()
    return identity


async def identity_of_record(session: AsyncSession, resident_id: uuid.UUID) -> ResidentIdentity | None:
    """The identity linked to booking's resident record ``resident_id``."""
    query = select(ResidentIdentity).where(ResidentIdentity.resident_id == resident_id)
    return (await session.execute(query)).scalar_one_or_none()


async def identities_naming(session: AsyncSession, resident_id: uuid.UUID) -> Sequence[ResidentIdentity]:
    """The identity linked to the record ``resident_id``, and the identity whose own id it is (a self-registration)."""
    query = select(ResidentIdentity).where(
        or_(ResidentIdentity.resident_id == resident_id, ResidentIdentity.id == resident_id)
    )
    return (await session.scalars(query)).all()


async def links_after(
    session: AsyncSession, after: uuid.UUID | None, *, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID | None]]:
    """The next ``limit`` identities after the id ``after`` (from the first: None), in id order: each one's id and
    its record."""
    query = select(ResidentIdentity.id, ResidentIdentity.resident_id).order_by(ResidentIdentity.id)
    if after is not None:
        query = query.where(ResidentIdentity.id > after)
    return [(identity_id, resident_id) for identity_id, resident_id in (await session.execute(query.limit(limit)))]


async def unlink_record(session: AsyncSession, resident_id: uuid.UUID, *, but: uuid.UUID, now: datetime) -> None:
    """Unlink the record ``resident_id`` from every identity but ``but`` (the database's rows, not the session's)."""
    await session.execute(
        update(ResidentIdentity)
        .where(ResidentIdentity.resident_id == resident_id, ResidentIdentity.id != but)
        .values(resident_id=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )


async def delete_identity(session: AsyncSession, identity_id: uuid.UUID) -> None:
    await session.execute(delete(ResidentIdentity).where(ResidentIdentity.id == identity_id))
