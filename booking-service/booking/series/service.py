"""Recurring series: weekly on chosen weekdays (every N weeks) or every official working day, to an end date or a
count. The dates inside the booking horizon are booked together as the series' booker (``bookings.service.
create_many``), each with the outcome the single-booking path would give it, so every rule of a booking (quota,
pricing, suspensions, notifications) applies to it; a date whose slot is full is reported (and waitlisted when
asked), never dropped. The extension job books the dates the horizon reaches later, as the same booker."""

import uuid
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking.availability import schedule
from booking.bookings import service as bookings_service
from booking.bookings.models import ACTIVE_STATUSES, Booking, BookingStatus
from booking.catalog import service as catalog_service
from booking.catalog.models import CatalogOffering
from booking.config import Settings
from booking.rules import service as rules_service
from booking.series import repository, workdays
from booking.series import schemas as s
from booking.series.models import BookingSeries, SeriesOccurrence
from booking.waitlist import schemas as waitlist_schemas
from booking.waitlist import service as waitlist
from service_kit.auth import Principal, Role
from service_kit.errors import Conflict, FieldProblems, Forbidden, LinliError, NotFound, ValidationFailed
from service_kit.timeutil import utcnow

log = structlog.get_logger("linli.booking.series")

WORKING_WEEK = (0, 1, 2, 3, 4)


def _role(by: Principal) -> str:
    return sorted(by.roles)[0].value if by.roles else "unknown"


def _as_principal(actor_role: str, subject: str, series: BookingSeries, name: str | None = None) -> Principal:
    """The booker (or confirmer) of a series as the extension job acts for them: the same kind of caller, judged
    by the same rules (a helper whose grant has ended books nothing more)."""
    role = Role(actor_role) if actor_role in Role.__members__ else Role.operator
    if role == Role.provider_system:
        role = Role.provider_admin
    return Principal(
        subject=subject,
        roles=frozenset({role}),
        name=name,
        provider_id=series.provider_id if role in (Role.provider_admin, Role.provider_staff) else None,
        resident_id=(series.helper_resident_id or series.resident_id) if role == Role.resident else None,
    )


def _slot_time(series: BookingSeries) -> time:
    hours, minutes = series.start_time.split(":")
    return time(int(hours), int(minutes))


def _runs_at(offering: CatalogOffering, weekday: int, at: time) -> bool:
    """Whether the offering's weekly rules have a slot starting at ``at`` on ``weekday``."""
    # Any date of that weekday, without dated exceptions: the rule, not one day's closure.
    day = date(2024, 1, 1) + timedelta(days=weekday)
    slots = schedule.slots_on(
        day,
        weekly_rules=offering.weekly_rules,
        exceptions=(),
        duration_minutes=offering.duration_minutes,
        timezone=offering.timezone,
    )
    return any(slot.start.time() == at for slot in slots)


def _dates(series: BookingSeries, first: date, last: date) -> Iterator[date]:
    """The series' dates in ``first`` … ``last``, by its pattern and the official calendar."""
    week_zero = series.start_date - timedelta(days=series.start_date.weekday())
    day = max(first, series.start_date)
    while day <= last:
        if series.kind == "working_days":
            wanted = workdays.is_working_day(day)
        else:
            wanted = (
                day.weekday() in series.weekdays
                and ((day - week_zero).days // 7) % series.interval_weeks == 0
                and not (series.skip_holidays and workdays.is_day_off(day))
            )
        if wanted:
            yield day
        day += timedelta(days=1)


def _days_off(series: BookingSeries) -> list[s.DayOff]:
    """The public holidays and days off inside the planned dates that the pattern would otherwise have held."""
    if series.planned_through is None:
        return []
    skipped = []
    day = series.start_date
    while day <= series.planned_through:
        name = workdays.name_of(day)
        if name is not None:
            in_pattern = (
                day.weekday() in WORKING_WEEK if series.kind == "working_days" else day.weekday() in series.weekdays
            )
            if in_pattern and (series.kind == "working_days" or series.skip_holidays):
                skipped.append(s.DayOff(date=day, name=name))
        day += timedelta(days=1)
    return skipped


async def _check(
    session: AsyncSession, data: s.SeriesCreate, offering: CatalogOffering, settings: Settings, now: datetime
) -> None:
    """Every problem of the request's fields at once (422, one entry per field)."""
    rules = await rules_service.for_offering(session, offering.id, settings)
    zone = ZoneInfo(offering.timezone)
    today = now.astimezone(zone).date()
    horizon_day = rules.bookable_until(now).astimezone(zone).date()
    hours, minutes = data.time.split(":")
    at = time(int(hours), int(minutes))
    problems = FieldProblems()
    with problems.field("weekdays"):
        if data.kind == "weekly" and not data.weekdays:
            raise ValidationFailed("choose the weekdays of a weekly series.", code="weekdays_required")
        if data.kind == "working_days" and data.weekdays:
            raise ValidationFailed("a working-days series takes no weekdays.", code="weekdays_not_expected")
        if data.weekdays and len(set(data.weekdays)) != len(data.weekdays):
            raise ValidationFailed("each weekday once.", code="weekdays_repeated")
    for index, weekday in enumerate(data.weekdays or ()):
        with problems.field(f"weekdays.{index}"):
            if not _runs_at(offering, weekday, at):
                raise ValidationFailed(
                    f"the service has no slot at {data.time} on this weekday.", code="weekday_not_offered"
                )
    if data.kind == "working_days":
        with problems.field("time"):
            missing = [d for d in WORKING_WEEK if not _runs_at(offering, d, at)]
            if missing:
                raise ValidationFailed(
                    f"the service has no slot at {data.time} on every working day.", code="weekday_not_offered"
                )
    with problems.field("start_date"):
        if data.start_date < today:
            raise ValidationFailed("the first date has passed.", code="start_in_past")
        if data.start_date > horizon_day:
            raise ValidationFailed(
                f"start within the booking horizon ({rules.horizon.days} days, until {horizon_day}).",
                code="series_beyond_horizon",
            )
    with problems.field("end_date"):
        if data.end_date is None and data.count is None:
            raise ValidationFailed("give an end date or a count.", code="end_required")
        if data.end_date is not None and data.end_date < data.start_date:
            raise ValidationFailed("the end is before the start.", code="end_before_start")
        if data.end_date is not None and (data.end_date - data.start_date).days >= settings.series_max_days:
            raise ValidationFailed(f"a series spans at most {settings.series_max_days} days.", code="series_too_long")
    with problems.field("count"):
        if data.end_date is not None and data.count is not None:
            raise ValidationFailed("give an end date or a count, not both.", code="end_date_and_count")
        if data.count is not None and data.count > settings.series_max_occurrences:
            raise ValidationFailed(
                f"a series has at most {settings.series_max_occurrences} dates.", code="too_many_occurrences"
            )
    problems.raise_any()


async def create(
    session: AsyncSession, data: s.SeriesCreate, *, by: Principal, settings: Settings, now: datetime
) -> BookingSeries:
    """Record the series and book its dates inside the booking horizon."""
    who = await bookings_service.booker(session, by, data.resident_id)
    offering = await bookings_service.bookable_offering(session, data.offering_id, who, by=by)
    await _check(session, data, offering, settings, now)
    channel = bookings_service.channel_for(who.kind, data.channel)
    series = BookingSeries(
        id=uuid.uuid4(),
        resident_id=who.resident_id,
        offering_id=offering.id,
        provider_id=offering.provider_id,
        kind=data.kind,
        weekdays=sorted(data.weekdays or ()),
        interval_weeks=data.interval_weeks,
        skip_holidays=data.skip_holidays,
        start_time=data.time,
        start_date=data.start_date,
        end_date=data.end_date,
        count=data.count,
        waitlist_when_full=data.waitlist_when_full,
        channel=channel,
        status="active",
        planned_through=None,
        planned=0,
        booker_kind=_role(by),
        booker_subject=by.subject[:160],
        booker_name=by.name[:100] if by.name else None,
        helper_resident_id=who.helper_id,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, series)
    await _plan(session, series, by=by, settings=settings, now=now)
    return series


async def _plan(
    session: AsyncSession, series: BookingSeries, *, by: Principal, settings: Settings, now: datetime
) -> int:
    """Book the series' dates the booking horizon reaches at ``now`` and not planned yet; the number planned."""
    offering = await catalog_service.get_offering(session, series.offering_id)
    if offering is None:
        return 0
    rules = await rules_service.for_offering(session, offering.id, settings)
    zone = ZoneInfo(offering.timezone)
    until = rules.bookable_until(now)
    through = until.astimezone(zone).date()
    if datetime.combine(through, _slot_time(series), tzinfo=zone) > until:
        through -= timedelta(days=1)
    if series.end_date is not None:
        through = min(through, series.end_date)
    was = series.planned_through
    first = was + timedelta(days=1) if was is not None else series.start_date
    if through < first:
        return 0
    if not await repository.claim(session, series.id, was=was, through=through):
        return 0
    confirmer = None
    if series.confirmed_by is not None:
        role, _, subject = series.confirmed_by.partition(":")
        confirmer = _as_principal(role, subject, series)
    planned, last, days = series.planned, through, []
    for day in _dates(series, first, through):
        if series.count is not None and planned >= series.count:
            break
        days.append(day)
        planned += 1
        last = day
    slot_starts = [datetime.combine(day, _slot_time(series), tzinfo=zone) for day in days]
    # The dates are booked together, each with the outcome a booking of it alone would have had.
    outcomes = await bookings_service.create_many(
        session,
        series.offering_id,
        series.resident_id,
        slot_starts,
        channel=series.channel,
        by=by,
        settings=settings,
        now=now,
    )
    occurrences = []
    for day, slot_start, outcome in zip(days, slot_starts, outcomes, strict=True):
        occurrences.append(
            await _occurrence(
                session, series, day, slot_start, outcome, by=by, confirmer=confirmer, settings=settings, now=now
            )
        )
    # The dates were claimed above, so none is planned elsewhere: one insert for them all (the unique series + day
    # would still refuse a second row, failing the whole transaction).
    await repository.add_occurrences(session, occurrences)
    done = (series.count is not None and planned >= series.count) or (
        series.end_date is not None and through >= series.end_date
    )
    values = {"planned": planned, "updated_at": now, "planned_through": last if done else through}
    if done:
        values["status"] = "ended"
    await repository.update_series(session, series.id, values)
    await session.refresh(series)
    return planned


async def _occurrence(
    session: AsyncSession,
    series: BookingSeries,
    day: date,
    slot_start: datetime,
    outcome: Booking | LinliError,
    *,
    by: Principal,
    confirmer: Principal | None,
    settings: Settings,
    now: datetime,
) -> SeriesOccurrence:
    """The date's record: booked (and confirmed on the provider's word), or why not (and waitlisted if full)."""
    occurrence = SeriesOccurrence(
        id=uuid.uuid4(), series_id=series.id, day=day, slot_start=slot_start, outcome="refused", created_at=now
    )
    if isinstance(outcome, LinliError):
        occurrence.code = outcome.code
        if outcome.code == "slot_full":
            occurrence.outcome = "full"
            if series.waitlist_when_full:
                await _wait_for(session, series, occurrence, by=by, now=now)
        return occurrence
    occurrence.outcome, occurrence.booking_id = "booked", outcome.id
    if confirmer is not None and outcome.status == BookingStatus.requested:
        await _confirm_one(session, outcome.id, by=confirmer, settings=settings, now=now)
    return occurrence


async def _wait_for(
    session: AsyncSession, series: BookingSeries, occurrence: SeriesOccurrence, *, by: Principal, now: datetime
) -> None:
    join = waitlist_schemas.WaitlistJoin(
        offering_id=series.offering_id, slot_start=occurrence.slot_start, resident_id=series.resident_id
    )
    try:
        async with session.begin_nested():
            entry = await waitlist.join(session, join, by=by, now=now, series_id=series.id)
    except LinliError as exc:
        occurrence.code = exc.code
        return
    occurrence.outcome, occurrence.waitlist_entry_id = "waitlisted", entry.id


async def _confirm_one(
    session: AsyncSession, booking_id: uuid.UUID, *, by: Principal, settings: Settings, now: datetime
) -> LinliError | None:
    try:
        async with session.begin_nested():
            await bookings_service.change(
                session, booking_id, "confirm", by=by, reason=None, settings=settings, now=now
            )
    except LinliError as exc:
        return exc
    return None


async def get_visible(session: AsyncSession, series_id: uuid.UUID, *, by: Principal) -> tuple[BookingSeries, str]:
    series = await repository.get(session, series_id)
    relation = await bookings_service.relation_or_404(
        session, by, series, NotFound("No such series.", code="series_not_found")
    )
    assert series is not None
    return series, relation


async def confirm(
    session: AsyncSession, series_id: uuid.UUID, *, by: Principal, settings: Settings, now: datetime
) -> BookingSeries:
    """The provider (or an operator) confirms the series once: each requested date now, the later ones as they
    are booked."""
    series, relation = await get_visible(session, series_id, by=by)
    if relation not in ("provider", "staff"):
        raise Forbidden("Only the provider or an operator confirms a series.")
    if series.status == "cancelled":
        raise Conflict("This series is cancelled.", code="series_cancelled")
    await repository.update_series(
        session, series.id, {"confirmed_at": now, "confirmed_by": bookings_service.actor_of(by), "updated_at": now}
    )
    bookings = await bookings_service.by_ids(
        session, [o.booking_id for o in await repository.occurrences(session, series.id) if o.booking_id]
    )
    for booking in bookings.values():
        if booking.status == BookingStatus.requested:
            await _confirm_one(session, booking.id, by=by, settings=settings, now=now)
    await session.refresh(series)
    return series


async def cancel(
    session: AsyncSession,
    series_id: uuid.UUID,
    data: s.SeriesCancel,
    *,
    by: Principal,
    settings: Settings,
    now: datetime,
) -> tuple[BookingSeries, list[s.NotCancelled]]:
    """Cancel the dates from ``from_date`` on ("this and all future") and stop the series: each booking through
    the single-booking cancellation (its rules: a resident inside the cancellation window cannot), waitlist places
    of those dates left. The dates that could not be cancelled are named with why."""
    series, relation = await get_visible(session, series_id, by=by)
    if relation == "observer":
        raise Forbidden("You may not cancel this series.")
    offering = await catalog_service.get_offering(session, series.offering_id)
    zone = ZoneInfo(offering.timezone if offering is not None else "Asia/Shanghai")
    today = now.astimezone(zone).date()
    since = data.from_date or today
    if since < today:
        raise ValidationFailed("from_date: a date that has passed cannot be cancelled.", code="from_in_past")
    # The lock order of ``booking.bookings.service``: the series, its places in line, then the funding and the
    # slots of every date given back, before the first date is cancelled. The dates are read under the series'
    # lock, so an extension planning more of them meanwhile is either seen whole or waits for this.
    if series.status == "cancelled" or not await repository.lock_uncancelled(session, series.id):
        raise Conflict("This series is cancelled already.", code="series_cancelled")
    since_at = datetime.combine(since, time(0), tzinfo=zone)
    entries = await waitlist.lock_of_series(session, series.id, since_at)
    occurrences = [o for o in await repository.occurrences(session, series.id) if o.day >= since]
    bookings = await bookings_service.by_ids(session, [o.booking_id for o in occurrences if o.booking_id])
    await bookings_service.lock_release(
        session,
        [b for b in bookings.values() if b.status in ACTIVE_STATUSES],
        programs=[e.program_id for e in entries if e.status == "offered" and e.program_id is not None],
        slots=[(e.offering_id, e.slot_start) for e in entries if e.status == "offered" and e.program_id is None],
    )
    kept: list[s.NotCancelled] = []
    for occurrence in occurrences:
        booking = bookings.get(occurrence.booking_id) if occurrence.booking_id else None
        if booking is None or booking.status not in ACTIVE_STATUSES:
            continue
        try:
            async with session.begin_nested():
                await bookings_service.change(
                    session, booking.id, "cancel", by=by, reason=data.reason, settings=settings, now=now
                )
        except LinliError as exc:
            kept.append(
                s.NotCancelled(
                    date=occurrence.day, booking_id=booking.id, code=exc.code, detail=exc.detail or exc.title
                )
            )
    await waitlist.leave_for_series(
        session,
        series.id,
        since_at,
        actor=bookings_service.actor_of(by),
        terms=waitlist.OfferTerms.of(settings),
        now=now,
    )
    await repository.update_series(
        session,
        series.id,
        {
            "status": "cancelled",
            "end_date": max(since - timedelta(days=1), series.start_date),
            "cancelled_at": now,
            "cancelled_by": bookings_service.actor_of(by),
            "updated_at": now,
        },
    )
    await session.refresh(series)
    return series, kept


async def extend(
    sessionmaker: async_sessionmaker[AsyncSession], *, settings: Settings, batch: int, now: datetime | None = None
) -> int:
    """Book the dates the booking horizon has reached since each active series was last planned, one series per
    transaction, as its booker. Running it twice (or on two replicas) books nothing twice: each series' new dates
    are claimed by a guarded write, and each date is unique per series. The number of dates planned."""
    now = now or utcnow()
    total, after = 0, None
    while True:
        async with sessionmaker() as session:
            ids = await repository.active_to_extend(session, batch, after)
        if not ids:
            return total
        for series_id in ids:
            async with sessionmaker() as session:
                series = await repository.get(session, series_id)
                if series is None or series.status != "active":
                    continue
                before = series.planned
                by = _as_principal(series.booker_kind, series.booker_subject, series, series.booker_name)
                try:
                    await _plan(session, series, by=by, settings=settings, now=now)
                except LinliError as exc:
                    log.warning("could not extend a series", series_id=str(series_id), code=exc.code)
                    await session.rollback()
                    continue
                await session.commit()
                total += series.planned - before
        after = ids[-1]


async def to_schema(
    session: AsyncSession,
    series: BookingSeries,
    *,
    viewer: Principal,
    not_cancelled: list[s.NotCancelled] | None = None,
) -> s.Series:
    occurrences = await repository.occurrences(session, series.id)
    bookings = await bookings_service.by_ids(session, [o.booking_id for o in occurrences if o.booking_id])
    shown = {b.id: b for b in await bookings_service.to_schemas(session, list(bookings.values()), viewer=viewer)}
    entries = await waitlist.schemas_of(session, [o.waitlist_entry_id for o in occurrences if o.waitlist_entry_id])
    computed = {"time", "weekdays", "occurrences", "days_off_skipped", "not_cancelled"}
    return s.Series.model_validate(
        {
            **{field: getattr(series, field) for field in s.Series.model_fields if field not in computed},
            "time": series.start_time,
            "weekdays": list(series.weekdays),
            "occurrences": [
                s.Occurrence(
                    date=o.day,
                    slot_start=o.slot_start,
                    outcome=o.outcome,
                    code=o.code,
                    booking=shown.get(o.booking_id) if o.booking_id else None,
                    waitlist=entries.get(o.waitlist_entry_id) if o.waitlist_entry_id else None,
                )
                for o in occurrences
            ],
            "days_off_skipped": _days_off(series),
            "not_cancelled": not_cancelled or [],
        }
    )


async def move_to_resident(session: AsyncSession, from_id: uuid.UUID, to_id: uuid.UUID) -> int:
    """A merged duplicate's series become the survivor's (their booked dates move with the bookings; later dates
    are booked for the survivor): how many moved."""
    return await repository.move_resident(session, from_id, to_id)
