"""Keeps the catalog projections current from the registry's and procurement's events.

Handlers run inside the consumer's transaction (never commit) and tolerate events arriving out of order:
an offering snapshot applies only if its version is not older than the stored one, a provider status or a
contract change only if it did not happen before the stored one.
"""

import re
import uuid
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

import booking.replacements.service as replacements_service
from booking.bookings import repository as bookings_repository
from booking.catalog import repository
from booking.waitlist import service as waitlist_service
from service_kit.events.consumer import Subscription
from service_kit.events.contracts import (
    ContractAmended,
    ContractChanged,
    ContractFundingKept,
    ContractSigned,
    ContractTerminated,
    KeptBooking,
    OfferingPublished,
    OfferingSnapshot,
    OfferingUpdated,
    OfferingWithdrawn,
    ProviderReinstated,
    ProviderRestored,
    ProviderSanctionChanged,
    ProviderSanctioned,
    ProviderStatusChanged,
    ProviderSuspended,
    ProviderVerified,
)
from service_kit.events.envelope import Envelope, MalformedEvent
from service_kit.events.outbox import emit
from service_kit.timeutil import as_aware, utcnow

subscription = Subscription("catalog")

# The namespace of the one ``contract.funding_kept`` event id each ended contract gets.
FUNDING_END_REPORTS = uuid.UUID("6f1c2a7e-1d0b-4c8e-9a55-3f3e6c2b8d41")

# Contract statuses under which nothing is funded any more, whatever event announced them.
ENDED_CONTRACT_STATUSES = frozenset({"terminated", "closed", "expired", "cancelled", "suspended"})

_HHMM = re.compile(r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")


def _check_schedule(event: OfferingSnapshot) -> None:
    """Refuse a snapshot availability could not be computed from: it goes to the dead letters, not into the
    projection where every availability request would fail on it."""
    try:
        ZoneInfo(event.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise MalformedEvent(f"offering {event.offering_id}: unknown time zone {event.timezone!r}") from exc
    for exception in event.exceptions:
        for hhmm in (exception.start, exception.end):
            if hhmm is not None and not _HHMM.match(hhmm):
                raise MalformedEvent(f"offering {event.offering_id}: exception hours {hhmm!r} are not HH:MM")


@subscription.on(OfferingPublished, OfferingUpdated, OfferingWithdrawn)
async def store_offering(session: AsyncSession, event: OfferingSnapshot, envelope: Envelope) -> None:
    _check_schedule(event)
    await repository.upsert_offering(
        session,
        {
            "id": event.offering_id,
            "provider_id": event.provider_id,
            "provider_name": event.provider_name,
            "category_code": event.category_code,
            "name_zh": event.name_zh,
            "name_en": event.name_en,
            "mode": event.mode,
            "price_fen": event.price_fen,
            "duration_minutes": event.duration_minutes,
            "capacity_per_slot": event.capacity_per_slot,
            "timezone": event.timezone,
            "weekly_rules": [rule.model_dump(mode="json") for rule in event.weekly_rules],
            "exceptions": [exception.model_dump(mode="json") for exception in event.exceptions],
            "target_groups": list(event.target_groups),
            "auto_confirm": event.auto_confirm,
            # A withdrawal is final for booking whatever status the snapshot carries.
            "status": "withdrawn" if isinstance(event, OfferingWithdrawn) else event.status,
            "version": event.version,
            "latitude": event.latitude,
            "longitude": event.longitude,
            "service_radius_m": event.service_radius_m,
            "service_communities": list(event.service_communities),
            "place_name": event.place_name,
            "place_address": event.place_address,
        },
    )


@subscription.on(ProviderVerified, ProviderSuspended, ProviderReinstated)
async def store_provider_status(session: AsyncSession, event: ProviderStatusChanged, envelope: Envelope) -> None:
    await repository.upsert_provider(
        session,
        {
            "id": event.provider_id,
            "name": event.name,
            "kind": event.kind,
            "status": event.status,
            "accepts_bookings": not isinstance(event, ProviderSuspended),
            "as_of": as_aware(envelope.time),
        },
    )


@subscription.on(ContractSigned, ContractAmended, ContractTerminated)
async def store_funded_programs(session: AsyncSession, event: ContractChanged, envelope: Envelope) -> None:
    previous_status = await repository.contract_status(session, event.contract_id)
    if not await repository.claim_contract_event(
        session, event.contract_id, status=event.status, as_of=event.occurred_at
    ):
        return  # a later event of this contract was applied: a termination before the signing stays a termination
    ended = isinstance(event, ContractTerminated) or event.status in ENDED_CONTRACT_STATUSES
    funded = [] if ended else list(event.funded_offerings)
    keep = [f.offering_id for f in funded]
    # The programs this event stops funding: their residents' upcoming bookings need a replacement.
    ending = await repository.active_programs_of(session, event.contract_id, except_offering_ids=keep)
    await repository.deactivate_funded_programs(
        session,
        event.contract_id,
        as_of=event.occurred_at,
        contract_status=event.status,
        keep_offering_ids=keep,
    )
    cause = "terminated" if ended else "amended"
    if ending:
        await replacements_service.flag_ended_funding(
            session, ending, cause=cause, ended_at=event.occurred_at, now=utcnow()
        )
        # Nobody waiting for a subsidised unit of these programmes will get one: their places end, and they are told.
        await waitlist_service.end_places_of_programs(session, ending, now=utcnow())
    if not (ended and previous_status in ENDED_CONTRACT_STATUSES):  # an end is reported once
        await report_kept_funding(session, event, ended=ended, ending_offering_ids=[p.offering_id for p in ending])
    for offering in funded:
        values: dict[str, Any] = {
            "contract_id": event.contract_id,
            "offering_id": offering.offering_id,
            "provider_id": event.provider_id,
            "unit_price_fen": offering.unit_price_fen,
            # A contract never makes the resident pay more than the contract pays per unit.
            "resident_price_fen": min(offering.resident_price_fen, offering.unit_price_fen),
            "quota": offering.quota,
            "eligibility_tags": sorted(set(offering.eligibility_tags)),
            "start_date": event.start_date,
            "end_date": event.end_date,
            "active": True,
            "contract_status": event.status,
            "as_of": event.occurred_at,
        }
        await repository.upsert_funded_program(session, values)


async def report_kept_funding(
    session: AsyncSession, event: ContractChanged, *, ended: bool, ending_offering_ids: list[Any]
) -> None:
    """Tell procurement which upcoming bookings keep the subsidy of a contract that stopped funding them: the
    booking keeps the price the resident was told, so the contract still owes its delivery. Sent once for every
    ended contract (an empty list lets procurement give the whole unpaid rest back to the fund), and for an
    amendment only when it leaves bookings of the offerings it stopped funding."""
    offerings = None if ended else ending_offering_ids
    if offerings is not None and not offerings:
        return
    kept = await bookings_repository.still_funded_by(session, event.contract_id, offerings)
    if not ended and not kept:
        return
    await emit(
        session,
        ContractFundingKept(
            contract_id=event.contract_id,
            cause="terminated" if ended else "amended",
            bookings=tuple(
                KeptBooking(booking_id=b.id, offering_id=b.offering_id, subsidy_fen=b.subsidy_fen) for b in kept
            ),
            occurred_at=utcnow(),
        ),
        # The end of a contract is reported once, even by two of its events applied at the same moment.
        event_id=str(uuid.uuid5(FUNDING_END_REPORTS, str(event.contract_id))) if ended else None,
    )


@subscription.on(ProviderSanctioned, ProviderRestored)
async def store_provider_sanction(session: AsyncSession, event: ProviderSanctionChanged, envelope: Envelope) -> None:
    """Record the provider's sanction standing, and nothing more: a sanction bars new awards in procurement, but
    the provider's existing contracts continue until a termination or an amendment ends them, so its funded
    offerings keep their subsidy (new bookings included) and stay bookable (only a registry suspension stops
    bookings). Residents never lose funded service because of a sanction alone."""
    await repository.upsert_sanction(
        session,
        {
            "provider_id": event.provider_id,
            "sanctioned": isinstance(event, ProviderSanctioned),
            "sanction_id": event.sanction_id,
            "measure": event.measure[:64],
            "until": event.until,
            "as_of": as_aware(event.occurred_at),
        },
    )
