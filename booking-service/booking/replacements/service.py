"""When a contract's funding ends (terminated, amended away, or past its last day), the residents it funded are
not left to find out at the door: each of their upcoming bookings of the offering is marked as needing a
replacement, and operators are shown equivalent funded services in the resident's 15-minute circle.

What happens to the upcoming booking itself: nothing. It keeps the price and the subsidy it was booked with
(a resident never pays more than they were told when they booked), stays bookable and deliverable, and is
cancelled only when the operator rebooks the resident onto an alternative (or by the usual cancel)."""

import uuid
from datetime import datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking.audit import service as audit
from booking.bookings import service as bookings_service
from booking.bookings.models import Booking
from booking.catalog import service as catalog_service
from booking.catalog.models import CatalogOffering, FundedProgram
from booking.config import Settings
from booking.replacements import repository
from booking.replacements import schemas as s
from booking.replacements.models import BookingReplacement, FundingCause, ReplacementStatus
from booking.residents import service as residents_service
from booking.residents.models import Resident
from booking.waitlist import service as waitlist_service
from service_kit import geo
from service_kit.auth import Principal
from service_kit.errors import Conflict, NotFound, ValidationFailed
from service_kit.timeutil import SHANGHAI, utcnow


async def flag_ended_funding(
    session: AsyncSession,
    programs: list[FundedProgram],
    *,
    cause: FundingCause | str,
    ended_at: datetime,
    now: datetime,
) -> int:
    """Mark the upcoming bookings the end of ``programs`` leaves without funding; how many were newly marked.
    Runs in the caller's transaction; a booking already marked (a redelivered event, the sweep) is left alone."""
    marked = 0
    for program in programs:
        offering = await catalog_service.get_offering(session, program.offering_id)
        category = offering.category_code if offering is not None else ""
        for booking in await repository.upcoming_of_funded_residents(session, program, now):
            marked += await repository.add_unless_marked(
                session,
                {
                    "booking_id": booking.id,
                    "resident_id": booking.resident_id,
                    "offering_id": booking.offering_id,
                    "category_code": category,
                    "contract_id": program.contract_id,
                    "cause": FundingCause(cause).value,
                    "funding_ended_at": ended_at,
                },
            )
    return marked


async def end_expired_funding(sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime, batch: int) -> int:
    """End the programs whose contract's last day (a Beijing date) is before ``now``'s, and mark what that leaves
    their residents; the number of programs ended. Each program ends in its own transaction by a guarded write,
    so of two racing sweeps (replicas) one ends it and the other skips it."""
    today = now.astimezone(SHANGHAI).date()
    async with sessionmaker() as session:
        due = await catalog_service.programs_past_their_end(session, today, batch)
    ended = 0
    for program_id in due:
        async with sessionmaker() as session:
            program = await catalog_service.end_program(session, program_id, today)
            if program is None:
                await session.rollback()
                continue
            ended_at = datetime.combine(program.end_date + timedelta(days=1), time(), tzinfo=SHANGHAI)
            await flag_ended_funding(session, [program], cause=FundingCause.expired, ended_at=ended_at, now=now)
            await waitlist_service.end_places_of_programs(session, [program], now=now)
            await session.commit()
            ended += 1
    return ended


def _in_circle(resident: Resident, offering: CatalogOffering, walk_m: int) -> tuple[bool, int | None]:
    """Whether the offering lies in the resident's 15-minute circle, and how far from home it is (when both
    points are known): a center within walking distance, or a door-to-door service whose area holds the home
    (its radius, or the communities it names), as the registry's circle search decides."""
    distance = None
    if None not in (resident.latitude, resident.longitude, offering.latitude, offering.longitude):
        distance = geo.distance_m(resident.latitude, resident.longitude, offering.latitude, offering.longitude)  # type: ignore[arg-type]
    if offering.mode == "at_center":
        return distance is not None and distance <= walk_m, distance
    if offering.mode == "door_to_door":
        names_community = resident.community_code is not None and resident.community_code in (
            offering.service_communities or []
        )
        within_radius = (
            distance is not None and offering.service_radius_m is not None and distance <= offering.service_radius_m
        )
        return names_community or within_radius, distance
    return False, distance


async def alternatives(
    session: AsyncSession,
    replacement: BookingReplacement,
    booking: Booking,
    resident: Resident | None,
    *,
    settings: Settings,
) -> list[s.Alternative]:
    """Equivalent funded services for the resident, nearest first: the same category, funded on the booking's
    day by another active contract whose eligibility the resident meets and whose quota is not used up."""
    if resident is None:
        return []
    on = booking.slot_start.astimezone(SHANGHAI).date()
    tags = set(resident.eligibility_tags)
    found: dict[uuid.UUID, s.Alternative] = {}
    for program, offering in await catalog_service.funded_alternatives(
        session, replacement.category_code, on, except_contract_id=replacement.contract_id
    ):
        if offering.id in found or (program.eligibility_tags and not set(program.eligibility_tags) & tags):
            continue  # rows come cheapest for the resident first: the first eligible program of an offering wins
        placed, distance = _in_circle(resident, offering, settings.circle_walk_m)
        if not placed:
            continue
        found[offering.id] = s.Alternative(
            offering_id=offering.id,
            name_zh=offering.name_zh,
            name_en=offering.name_en,
            category_code=offering.category_code,
            mode=offering.mode,
            provider_id=offering.provider_id,
            provider_name=offering.provider_name,
            distance_m=distance,
            price_fen=offering.price_fen,
            resident_price_fen=program.resident_price_fen,
            subsidy_fen=max(program.unit_price_fen - program.resident_price_fen, 0),
            funded_contract_id=program.contract_id,
            quota_left=program.quota - program.used,
        )
    ranked = sorted(
        found.values(),
        key=lambda a: (a.distance_m is None, a.distance_m or 0, a.resident_price_fen, a.name_zh, str(a.offering_id)),
    )
    return ranked[: settings.replacement_alternatives]


async def _views(
    session: AsyncSession, rows: list[BookingReplacement], *, by: Principal, settings: Settings
) -> list[s.Replacement]:
    bookings = await repository.bookings_by_id(session, [r.booking_id for r in rows])
    summaries = await residents_service.summaries(session, (r.resident_id for r in rows), by)
    views = []
    for row in rows:
        booking = bookings[row.booking_id]
        offering = await catalog_service.get_offering(session, booking.offering_id)
        resident = await residents_service.get(session, row.resident_id)
        found = await alternatives(session, row, booking, resident, settings=settings) if row.status == "open" else []
        views.append(
            s.Replacement(
                id=row.id,
                status=row.status,
                cause=row.cause,
                contract_id=row.contract_id,
                funding_ended_at=row.funding_ended_at,
                resident=summaries.get(row.resident_id),
                booking=s.BookingToReplace(
                    id=booking.id,
                    offering_id=booking.offering_id,
                    offering_name=offering.name_zh if offering is not None else None,
                    status=booking.status,
                    slot_start=booking.slot_start,
                    price_fen=booking.price_fen,
                    subsidy_fen=booking.subsidy_fen,
                    funded_contract_id=booking.funded_contract_id,
                ),
                alternatives=found,
                handled_by=row.handled_by,
                handled_at=row.handled_at,
                note=row.note,
                replacement_booking_id=row.replacement_booking_id,
                created_at=row.created_at,
            )
        )
    return views


async def list_page(
    session: AsyncSession,
    *,
    status: ReplacementStatus | None,
    by: Principal,
    settings: Settings,
    limit: int,
    offset: int,
) -> tuple[list[s.Replacement], int]:
    """Residents whose funded booking needs a replacement (oldest first), each with the alternatives near home;
    looking at a resident's booking is recorded as acting for them."""
    rows, total = await repository.list_page(session, status=status, limit=limit, offset=offset)
    for resident_id in dict.fromkeys(r.resident_id for r in rows):
        await audit.record(session, by, resident_id, "list_replacements")
    return await _views(session, list(rows), by=by, settings=settings), total


def _field_error(field: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}", code=code, errors=[{"field": field, "in": "body", "message": message, "type": code}]
    )


async def handle(
    session: AsyncSession,
    replacement_id: uuid.UUID,
    data: s.ReplacementHandle,
    *,
    by: Principal,
    settings: Settings,
) -> s.Replacement:
    """Close an open replacement: the operator rebooked the resident (the old booking, if still upcoming, is then
    cancelled, giving back its slot), or the resident declined (the old booking stays as it is). Audited."""
    replacement = await repository.get(session, replacement_id)
    if replacement is None:
        raise NotFound("No such replacement.", code="replacement_not_found")
    if replacement.status != ReplacementStatus.open:
        raise Conflict(
            f"This replacement was already handled ({replacement.status.value}).",
            code="replacement_already_handled",
            current_status=replacement.status.value,
        )
    if data.outcome == "rebooked":
        if data.booking_id is None:
            raise _field_error("booking_id", "give the resident's new booking.", "booking_id_required")
        new = (await repository.bookings_by_id(session, [data.booking_id])).get(data.booking_id)
        if new is None or new.resident_id != replacement.resident_id:
            raise _field_error("booking_id", "no such booking of this resident.", "replacement_booking_not_found")
        if new.id == replacement.booking_id or new.status not in repository.UPCOMING_STATUSES:
            raise _field_error(
                "booking_id", "the new booking must be another upcoming booking.", "replacement_booking_invalid"
            )
    elif data.booking_id is not None:
        raise _field_error("booking_id", "only a rebooking names a booking.", "booking_id_not_expected")
    now = utcnow()
    closed = await repository.close(
        session,
        replacement.id,
        values={
            "status": ReplacementStatus(data.outcome),
            "handled_by": f"{sorted(by.roles)[0] if by.roles else 'unknown'}:{by.subject}"[:160],
            "handled_at": now,
            "note": data.note,
            "replacement_booking_id": data.booking_id,
            "updated_at": now,
        },
    )
    if not closed:
        current = await repository.get(session, replacement.id)
        status = current.status.value if current is not None else "unknown"
        raise Conflict(
            f"This replacement was already handled ({status}).",
            code="replacement_already_handled",
            current_status=status,
        )
    await audit.record(
        session, by, replacement.resident_id, f"replacement_{data.outcome}", booking_id=replacement.booking_id
    )
    if data.outcome == "rebooked":
        old = (await repository.bookings_by_id(session, [replacement.booking_id]))[replacement.booking_id]
        if old.status in repository.UPCOMING_STATUSES:
            await bookings_service.change(
                session,
                old.id,
                "cancel",
                by=by,
                reason="已改约同类政府资助服务（原合同资助已终止）",
                settings=settings,
            )
    refreshed = await repository.get(session, replacement.id)
    assert refreshed is not None
    return (await _views(session, [refreshed], by=by, settings=settings))[0]
