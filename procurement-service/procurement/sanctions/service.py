"""Imposing, counting out and lifting sanctions. Procurement decides its sanctions and keeps them itself: the
eligibility of an application reads this table in the same transaction, whatever the event stream is doing;
provider.sanctioned / provider.restored tell the registry and booking.

A sanction bars *new* awards (applications, award proposals, signatures: ``providers.service.ensure_awardable``);
it does not end the contracts the provider already holds. Those continue, funding their residents, until the
bilateral process ends them (a termination or an amendment), which is what tells booking to stop funding.

A sanction belongs to the street of the contract that caused it: a street-scoped official lists and reads the
sanctions of their street's contracts only (another's is 404). Imposing or lifting one binds the whole district,
so a street-scoped official does neither (403 ``district_only``, ``procurement.auth.ensure_district_wide``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.audit import service as audit
from procurement.auth import ensure_district_wide, sees_street
from procurement.contracts import repository as contracts_repository
from procurement.providers import service as providers_service
from procurement.sanctions import repository, schemas
from procurement.sanctions.models import ProviderSanction, SanctionCause, SanctionStatus
from service_kit.auth import Principal
from service_kit.errors import InvalidTransition, NotFound, ValidationFailed
from service_kit.events.contracts import ProviderRestored, ProviderSanctioned
from service_kit.events.outbox import emit

MEASURE = "excluded_from_calls"


def view(sanction: ProviderSanction) -> schemas.Sanction:
    return schemas.Sanction.model_validate(sanction)


async def impose(
    session: AsyncSession,
    *,
    provider_id: uuid.UUID,
    contract_id: uuid.UUID,
    cause: SanctionCause,
    reason: str,
    rounds: int,
    by: Principal,
    now: datetime,
) -> ProviderSanction | None:
    """Sanction the provider for ``rounds`` calls; a contract that already sanctioned it does not add another."""
    if await repository.active_of_contract(session, contract_id) is not None:
        return None
    sanction = ProviderSanction(
        provider_id=provider_id,
        contract_id=contract_id,
        cause=cause,
        measure=MEASURE,
        reason=reason,
        rounds=rounds,
        rounds_served=0,
        status=SanctionStatus.active,
        imposed_at=now,
        imposed_by=by.subject,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, sanction)
    event = ProviderSanctioned(
        provider_id=provider_id,
        sanction_id=sanction.id,
        measure=MEASURE,
        reason=reason,
        until=None,  # counted in calls for proposals, not days: provider.restored ends it
        occurred_at=now,
    )
    await emit(session, event)
    # The provider projection learns it now, not when the event comes back around.
    await providers_service.apply_sanction(session, event)
    await audit.record(
        session,
        kind="sanction",
        subject_id=sanction.id,
        action="imposed",
        by=by,
        at=now,
        reason=reason,
        details={
            "provider_id": str(provider_id),
            "contract_id": str(contract_id),
            "cause": str(cause),
            "rounds": rounds,
        },
    )
    return sanction


async def active_for(session: AsyncSession, provider_id: uuid.UUID) -> list[ProviderSanction]:
    return await repository.active_for(session, provider_id)


async def ensure_not_sanctioned(session: AsyncSession, provider_id: uuid.UUID) -> None:
    """Refuse a sanctioned provider's application (422), naming the sanction and the rounds left."""
    active = await active_for(session, provider_id)
    if active:
        sanction = active[0]
        raise ValidationFailed(
            f"The provider is sanctioned ({sanction.reason}) and may not apply to "
            f"{sanction.rounds - sanction.rounds_served} more call(s) for proposals.",
            code="provider_sanctioned",
            sanction_id=str(sanction.id),
            rounds_remaining=sanction.rounds - sanction.rounds_served,
        )


async def _end(
    session: AsyncSession,
    sanction: ProviderSanction,
    to_status: SanctionStatus,
    *,
    by: Principal,
    now: datetime,
    reason: str,
    values: dict[str, Any],
) -> None:
    ended = await repository.end_active(session, sanction.id, status=to_status, ended_at=now, updated_at=now, **values)
    if not ended:
        await repository.refresh_status(session, sanction)
        raise InvalidTransition(
            f"The sanction is {sanction.status}; only an active one ends.", current_status=str(sanction.status)
        )
    await audit.record(
        session, kind="sanction", subject_id=sanction.id, action=str(to_status), by=by, at=now, reason=reason
    )
    if not await active_for(session, sanction.provider_id):
        event = ProviderRestored(
            provider_id=sanction.provider_id,
            sanction_id=sanction.id,
            measure=sanction.measure,
            reason=reason,
            occurred_at=now,
        )
        await emit(session, event)
        await providers_service.apply_sanction(session, event)


async def street_of(session: AsyncSession, sanction: ProviderSanction) -> str | None:
    """The street of the contract that caused the sanction; None (the district's) without one. (Contracts build on
    sanctions, through calls, so the contract's street is read through the contracts' repository.)"""
    if sanction.contract_id is None:
        return None
    return await contracts_repository.street_of(session, sanction.contract_id)


async def get_sanction(
    session: AsyncSession, sanction_id: uuid.UUID, *, by: Principal | None = None
) -> ProviderSanction:
    """The sanction; another street's does not exist for a street-scoped official."""
    sanction = await repository.get(session, sanction_id)
    if sanction is None or (
        by is not None and by.street_code is not None and not sees_street(by, await street_of(session, sanction))
    ):
        raise NotFound("No such sanction.", code="sanction_not_found")
    return sanction


async def lift(
    session: AsyncSession, sanction_id: uuid.UUID, data: schemas.SanctionLift, *, by: Principal, now: datetime
) -> schemas.Sanction:
    ensure_district_wide(by, "lifting a sanction")
    sanction = await get_sanction(session, sanction_id)
    await _end(
        session,
        sanction,
        SanctionStatus.lifted,
        by=by,
        now=now,
        reason=data.reason,
        values={"lifted_by": by.subject, "lift_reason": data.reason},
    )
    return view(await get_sanction(session, sanction_id))


async def count_round(session: AsyncSession, *, published_at: datetime | None, by: Principal, now: datetime) -> None:
    """A call for proposals closed: each sanction imposed before it was published has sat out one more round."""
    if published_at is None:
        return
    for sanction in await repository.count_round(session, imposed_before=published_at, at=now):
        await _end(
            session,
            sanction,
            SanctionStatus.served,
            by=by,
            now=now,
            reason=f"sat out {sanction.rounds} call(s) for proposals",
            values={},
        )


async def list_page(
    session: AsyncSession,
    *,
    provider_id: uuid.UUID | None,
    status: SanctionStatus | None,
    limit: int,
    offset: int,
    street_code: str | None = None,
) -> tuple[list[schemas.Sanction], int]:
    # A street-scoped official's: the sanctions of their street's contracts only.
    rows, total = await repository.list_page(
        session, provider_id=provider_id, status=status, street_code=street_code, limit=limit, offset=offset
    )
    return [view(s) for s in rows], total
