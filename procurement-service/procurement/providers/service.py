"""The provider projection and the rules built on it: who may apply (verified, of an admitted kind, not
sanctioned), who may be awarded a contract (verified, not sanctioned), and which offerings are a provider's own.

Events may arrive out of order (redelivery, several relays); each part of the projection keeps the time (or,
for an offering, the registry's version) of the fact it holds and ignores an older one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.providers import repository
from procurement.providers.models import ProviderStanding
from procurement.sanctions import repository as sanctions_repository
from service_kit.errors import ValidationFailed
from service_kit.events.contracts import (
    OfferingSnapshot,
    ProviderSanctionChanged,
    ProviderSanctioned,
    ProviderStatusChanged,
)
from service_kit.timeutil import SHANGHAI

ELIGIBLE_STATUSES = frozenset({"verified", "active"})


def field_error(field: str, message: str, *, code: str, **extra: Any) -> ValidationFailed:
    """A 422 naming the request's field at fault, as FastAPI's own validation errors do."""
    return ValidationFailed(
        f"{field}: {message}",
        code=code,
        errors=[{"field": field, "in": "body", "message": message, "type": code}],
        **extra,
    )


async def apply_status(session: AsyncSession, event: ProviderStatusChanged, *, at: datetime) -> None:
    standing = await repository.standing_for_update(session, event.provider_id)
    if standing.status_at is not None and standing.status_at > at:
        return
    standing.name, standing.kind, standing.status, standing.status_at = event.name, event.kind, event.status, at
    await repository.flush(session)


async def apply_sanction(session: AsyncSession, event: ProviderSanctionChanged) -> None:
    standing = await repository.standing_for_update(session, event.provider_id)
    if standing.sanction_at is not None and standing.sanction_at > event.occurred_at:
        return
    standing.sanctioned = isinstance(event, ProviderSanctioned)
    standing.sanction_until = event.until if standing.sanctioned else None
    standing.sanction_reason = event.reason
    standing.sanction_at = event.occurred_at
    await repository.flush(session)


async def check_eligible(
    session: AsyncSession, provider_id: uuid.UUID, *, kinds: list[str], now: datetime
) -> ProviderStanding:
    """The provider's standing, or a 422 naming why it may not apply."""
    standing = await repository.standing(session, provider_id)
    if standing is None or standing.status not in ELIGIBLE_STATUSES:
        raise ValidationFailed(
            "Only a provider verified by the registry may apply.",
            code="provider_not_verified",
            provider_status=standing.status if standing else None,
        )
    if standing.sanctioned and (standing.sanction_until is None or standing.sanction_until >= _today(now)):
        raise ValidationFailed(
            "The provider is under a sanction and may not apply.",
            code="provider_sanctioned",
            sanction_until=standing.sanction_until.isoformat() if standing.sanction_until else None,
        )
    if kinds and standing.kind not in kinds:
        raise ValidationFailed(
            f"This call admits providers of kind {', '.join(kinds)}; the provider is {standing.kind}.",
            code="provider_kind_not_eligible",
        )
    return standing


def _today(now: datetime) -> date:
    return now.astimezone(SHANGHAI).date()


async def apply_offering(session: AsyncSession, event: OfferingSnapshot, *, at: datetime) -> None:
    """Keep the registry's latest snapshot of an offering: a snapshot older than the stored version is ignored."""
    offering = await repository.offering_for_update(session, event.offering_id)
    if offering.version > event.version:
        return
    offering.provider_id, offering.name, offering.category_code = event.provider_id, event.name_zh, event.category_code
    offering.status, offering.version, offering.updated_at = event.status, event.version, at
    await repository.flush(session)


async def require_own_offerings(
    session: AsyncSession, provider_id: uuid.UUID, offerings: Sequence[tuple[str, uuid.UUID]]
) -> None:
    """Refuse (422, naming the field) an offering that is not one of ``provider_id``'s published offerings.

    ``offerings`` pairs each offering id with the request field that names it (``deliverables.1.offering_id``).
    Procurement knows offerings from the registry's events: one published a moment ago may not be known yet."""
    ids = {offering_id for _, offering_id in offerings}
    if not ids:
        return
    known = await repository.offerings(session, ids)
    for field, offering_id in offerings:
        offering = known.get(offering_id)
        if offering is None or offering.provider_id != provider_id:
            raise field_error(
                field,
                f"offering {offering_id} is not a published offering of provider {provider_id}.",
                code="offering_not_own",
                offering_id=str(offering_id),
            )
        if offering.status != "published":
            raise field_error(
                field,
                f"offering {offering_id} is {offering.status}, not published.",
                code="offering_not_published",
                offering_id=str(offering_id),
                offering_status=offering.status,
            )


async def ensure_awardable(session: AsyncSession, provider_id: uuid.UUID, *, now: datetime) -> ProviderStanding:
    """The provider's standing if it may be awarded a contract: verified by the registry and not sanctioned,
    by procurement's own sanctions or by the projection; otherwise a 422 naming ``provider_id``."""
    standing = await repository.standing(session, provider_id)
    if standing is None or standing.status not in ELIGIBLE_STATUSES:
        raise field_error(
            "provider_id",
            "only a provider verified by the registry is awarded a contract.",
            code="provider_not_verified",
            provider_status=standing.status if standing else None,
        )
    # Procurement's own sanctions are the sanctions module's rows; it builds on this one (it reads providers'
    # standing through it), so they are read through its repository.
    active = await sanctions_repository.active_for(session, provider_id)
    sanction = active[0].id if active else None
    if sanction is not None or (
        standing.sanctioned and (standing.sanction_until is None or standing.sanction_until >= _today(now))
    ):
        raise field_error(
            "provider_id",
            "the provider is under a sanction and is awarded no contract.",
            code="provider_sanctioned",
            sanction_id=str(sanction) if sanction else None,
        )
    return standing


async def lock_standing(session: AsyncSession, provider_id: uuid.UUID) -> None:
    """Take the provider's row for the rest of the transaction (PostgreSQL; SQLite's writers queue anyway): what
    may activate funding for the provider's offerings runs one at a time, so an overlap check sees the others."""
    await repository.lock_standing(session, provider_id)


async def names_of(session: AsyncSession, provider_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    """The registered names of the providers procurement knows among ``provider_ids``."""
    return await repository.names(session, provider_ids)


async def registered_name(session: AsyncSession, provider_id: uuid.UUID) -> str | None:
    """The provider's name as the registry registered it: the holder of the account it is paid to."""
    standing = await repository.standing(session, provider_id)
    return standing.name if standing is not None else None
