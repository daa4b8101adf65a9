"""The communities a resident may live in: those the registry's gazetteer announced (``community.upserted``).

A registration or correction naming a community booking has not heard of is refused (422 ``unknown_community``
on ``community_code``) before anything is written. Right after a community is added to the gazetteer it reaches
booking a moment later: the refusal says so, and a retry a few seconds later succeeds."""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from booking.communities import repository
from booking.communities.models import CommunityDutyContact, KnownCommunity
from service_kit.auth import Principal
from service_kit.errors import NotFound, ValidationFailed
from service_kit.events.contracts import CommunityUpserted
from service_kit.protection import PHONE, keyring_of


async def store(session: AsyncSession, event: CommunityUpserted) -> None:
    await repository.store(
        session,
        code=event.code,
        street_code=event.street_code[:32],
        name_zh=event.name_zh[:100],
        version=event.version,
    )


async def require_known(session: AsyncSession, code: str, *, field: str = "community_code") -> None:
    if await repository.get(session, code) is None:
        message = (
            f"No community {code!r} in the district's gazetteer (yet: if it was added a moment ago, try again in a "
            "few seconds)."
        )
        raise ValidationFailed(
            f"{field}: {message}",
            code="unknown_community",
            errors=[{"field": field, "in": "body", "message": message, "type": "unknown_community"}],
        )


async def by_code(session: AsyncSession, codes: Iterable[str]) -> dict[str, KnownCommunity]:
    """The communities named by ``codes`` (one query for a page of bookings)."""
    return {c.code: c for c in await repository.many(session, sorted(set(codes)))}


async def known(session: AsyncSession, *, limit: int, offset: int) -> tuple[list[KnownCommunity], int]:
    return await repository.page(session, limit=limit, offset=offset), await repository.count(session)


async def get(session: AsyncSession, code: str) -> KnownCommunity | None:
    return await repository.get(session, code)


async def duty_contact(session: AsyncSession, code: str) -> CommunityDutyContact | None:
    return await repository.duty_contact(session, code)


async def set_duty_contact(
    session: AsyncSession, code: str, *, name: str, phone: str, by: Principal, now: datetime
) -> CommunityDutyContact:
    """Keep the community's duty phone (``phone`` in E.164); a community the gazetteer does not name is 404."""
    if await repository.get(session, code) is None:
        raise NotFound(f"No community {code!r} in the district's gazetteer.", code="community_not_found")
    await repository.set_duty_contact(
        session,
        community_code=code,
        name=name,
        phone_sealed=keyring_of(session).seal(PHONE, phone),
        updated_by=by.subject,
        updated_by_name=by.name,
        updated_at=now,
    )
    found = await repository.duty_contact(session, code)
    assert found is not None
    return found


async def duty_contacts(session: AsyncSession) -> list[tuple[KnownCommunity, CommunityDutyContact | None]]:
    return await repository.duty_contacts(session)
