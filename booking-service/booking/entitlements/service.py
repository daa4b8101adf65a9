"""Personal entitlements: who is eligible (tags backed by evidence that expires), what each person gets of a
funded programme per period, and the price a booking carries once that is used up.

A booking draws one unit (or the slot's hours) of the resident's entitlement for the period of its slot's day, and
one unit of the programme's pool; both by guarded writes in the booking's transaction, so racing bookings never
give one person more than the programme states. Cancelling, rejecting or expiring the booking gives them back."""

import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking.catalog import service as catalog_service
from booking.catalog.models import CatalogOffering, FundedProgram
from booking.entitlements import repository
from booking.entitlements import schemas as s
from booking.entitlements.models import EligibilityEvidence, EligibilityRecheck
from booking.residents import helpers as helpers_service
from booking.residents import service as residents_service
from booking.residents.models import Resident
from service_kit.auth import Principal, Role
from service_kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from service_kit.timeutil import SHANGHAI, utcnow

TAG_NAMES = {"age_80_plus": "80岁以上", "living_alone": "独居", "disabled": "残疾", "low_income": "低收入"}
PERIOD_NAMES = {"month": "月", "week": "周"}
UNIT_NAMES = {"booking": "次", "hour": "小时"}


def period_bounds(period: str, on: date) -> tuple[date, date]:
    """The first and last day of the month or the week (Monday to Sunday) ``on`` falls in."""
    if period == "week":
        start = on - timedelta(days=on.weekday())
        return start, start + timedelta(days=6)
    start = on.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following - timedelta(days=1)


def units_of(program: FundedProgram, offering: CatalogOffering) -> int:
    """How much of a person's entitlement one booking of ``offering`` takes: one, or each started hour."""
    if program.per_person_unit == "hour":
        return max(1, math.ceil(offering.duration_minutes / 60))
    return 1


def _yuan(fen: int) -> str:
    return f"{fen // 100}" if fen % 100 == 0 else f"{fen / 100:.2f}"


@dataclass(frozen=True)
class Pricing:
    """What a booking is priced under: the programme that pays (None: full price), the resident's units drawn of
    it and their period, and why there is no subsidy when a reason is worth reading back to the caller."""

    program: FundedProgram | None
    period_start: date | None = None
    units: int | None = None
    note: str | None = None
    # Why, as a code a program reads; ``draw`` may leave it None when nothing she is eligible for funds the day.
    reason: s.SubsidyReason | None = None


# Why a booking is or is not subsidised, as the quote names it. Only ``quota_used_up`` has a line to wait in.
SUBSIDISED: Final = "subsidised"
QUOTA_USED_UP: Final = "quota_used_up"
ENTITLEMENT_USED_UP: Final = "entitlement_used_up"
EVIDENCE_EXPIRED: Final = "evidence_expired"
NOT_ELIGIBLE: Final = "not_eligible"
NOT_FUNDED: Final = "not_funded"
POOL_USED_UP_NOTE = "本项目的补贴名额已用完，本次按原价收费。"


@dataclass(frozen=True)
class Standing:
    """A resident's eligibility on a day: the tags that count, and those whose evidence has expired."""

    valid: frozenset[str]
    expired: dict[str, date]


async def standing(session: AsyncSession, resident: Resident, on: date) -> Standing:
    if not resident.eligibility_tags:
        # Most bookings are of residents with no tags: the single-booking path reads no evidence for them.
        return Standing(frozenset(), {})
    return _standing(resident, await repository.evidence_of(session, resident.id), on)


def _standing(resident: Resident, evidence: dict[str, EligibilityEvidence], on: date) -> Standing:
    valid, expired = set(), {}
    for tag in resident.eligibility_tags:
        proof = evidence.get(tag)
        if proof is not None and proof.expires_on is not None and proof.expires_on < on:
            expired[tag] = proof.expires_on
        else:
            valid.add(tag)
    return Standing(frozenset(valid), expired)


def _refused(notes: list[tuple[s.SubsidyReason, str]]) -> Pricing:
    """No programme would pay though some funds the day: a used-up pool is named before a used-up allowance, since
    the resident may wait in that programme's quota line."""
    reason, note = min(notes, key=lambda n: n[0] != QUOTA_USED_UP)
    return Pricing(None, note=note, reason=reason)


async def _unfunded(
    session: AsyncSession, offering: CatalogOffering, on: date, held: Standing, *, tell_apart: bool
) -> Pricing:
    """No programme the resident is eligible for funds the offering on ``on``. Her expired evidence is named when a
    programme funding it that day asks for that tag; ``tell_apart`` also reads whether any funds it at all
    (``not_eligible`` or ``not_funded``), which a booking, priced without it, does not need."""
    if not held.expired and not tell_apart:
        return Pricing(None)
    funding = await catalog_service.programs_funding(session, offering.id, on)
    wanted = {tag for program in funding for tag in program.eligibility_tags}
    expired = {tag: until for tag, until in held.expired.items() if tag in wanted}
    if expired:
        tag, until = min(expired.items(), key=lambda item: item[1])
        note = f"“{TAG_NAMES.get(tag, tag)}”资格证明已于{until.month}月{until.day}日到期，待复核，本次按原价收费。"
        return Pricing(None, note=note, reason=EVIDENCE_EXPIRED)
    return Pricing(None, reason=NOT_ELIGIBLE if funding else NOT_FUNDED)


async def _candidates(
    session: AsyncSession, offering: CatalogOffering, resident: Resident, on: date, claim: uuid.UUID | None
) -> tuple[list[FundedProgram], Standing]:
    """The programmes that may fund this booking, cheapest first. A claimed programme (``contract_id``) the
    resident is not eligible for is refused (422), as is one that does not fund the offering that day."""
    funding = await catalog_service.programs_funding(session, offering.id, on)
    tags = set(resident.eligibility_tags or ())
    # Her evidence can only take away a tag a programme asks for: when none of those funding the day asks for one
    # of hers, it is not read (a booking of an unfunded offering reads no evidence).
    if any(tags & set(program.eligibility_tags) for program in funding):
        held = await standing(session, resident, on)
    else:
        held = Standing(frozenset(tags), {})
    programs = catalog_service.applicable_programs(funding, held.valid)
    if claim is None:
        return programs, held
    claimed = [p for p in programs if p.contract_id == claim]
    if claimed:
        return claimed, held
    claimed = [p for p in funding if p.contract_id == claim]
    if not claimed:
        message = "该项目当天不资助这项服务。 This programme does not fund this service on that day."
        raise _invalid("contract_id", message, "program_not_funding")
    raise _not_eligible(claimed[0], "contract_id")


def _not_eligible(program: FundedProgram, field: str) -> ValidationFailed:
    needed = "、".join(TAG_NAMES.get(t, t) for t in program.eligibility_tags)
    message = f"该居民不符合本项目的补贴条件（需要：{needed}）。 The resident is not eligible for this programme."
    return _invalid(field, message, "not_eligible", required_tags=list(program.eligibility_tags))


async def quota_to_wait_for(
    session: AsyncSession, offering: CatalogOffering, resident: Resident, on: date, *, claim: uuid.UUID | None
) -> FundedProgram:
    """The funded programme whose used-up subsidised quota the resident may wait for, to book ``offering`` on
    ``on`` at its price: one she is eligible for (422 ``not_eligible`` otherwise, ``program_not_funding`` when none
    funds it) whose personal allowance she still has for the period of ``on`` (409 ``entitlement_used_up``
    otherwise: a unit would not subsidise her), and only when no such programme has a unit left (409
    ``quota_not_full``: book it subsidised now).
    Each pool is read under its lock, so a unit given back while she joins is either seen or offered to her."""
    programs, _ = await _candidates(session, offering, resident, on, claim)
    if not programs:
        funding = await catalog_service.programs_funding(session, offering.id, on)
        if not funding:
            message = "该项目当天不资助这项服务。 No programme funds this service on that day."
            raise _invalid("offering_id", message, "program_not_funding")
        raise _not_eligible(funding[0], "resident_id")
    programs = await _with_allowance_left(session, programs, offering, resident, on)
    for program in programs:
        left = await catalog_service.pool_left_locked(session, program.id)
        if left > 0:
            raise Conflict(
                "本项目的补贴名额还有剩余，可直接按补贴价预约。 The subsidised quota is not used up: book it instead.",
                code="quota_not_full",
                quota_left=left,
            )
    return programs[0]


async def _with_allowance_left(
    session: AsyncSession, programs: list[FundedProgram], offering: CatalogOffering, resident: Resident, on: date
) -> list[FundedProgram]:
    """Those of ``programs`` whose per-person allowance for the period of ``on`` would still take one booking of
    ``offering``; 409 ``entitlement_used_up`` naming what she has left and when it renews when none would."""
    usable: list[FundedProgram] = []
    spent: list[tuple[FundedProgram, int]] = []
    for program in programs:
        if program.per_person_units is not None:
            start, _ = period_bounds(program.per_person_period or "month", on)
            used = await repository.used(session, program.id, resident.id, start)
            if used + units_of(program, offering) > program.per_person_units:
                spent.append((program, used))
                continue
        usable.append(program)
    if usable or not spent:
        return usable
    program, used = spent[0]
    period, unit = PERIOD_NAMES[program.per_person_period or "month"], UNIT_NAMES[program.per_person_unit or "booking"]
    _, end = period_bounds(program.per_person_period or "month", on)
    renews = end + timedelta(days=1)
    left = max(program.per_person_units - used, 0) if program.per_person_units is not None else 0
    raise Conflict(
        f"本{period}补贴已用完（每{period}{program.per_person_units}{unit}，已用{used}{unit}，剩余{left}{unit}），"
        f"排队等到补贴名额也不能按补贴价收费；{renews.month}月{renews.day}日起恢复。"
        " The resident's own subsidy for this period is used up: a subsidised unit would not apply to her.",
        code="entitlement_used_up",
        contract_id=str(program.contract_id),
        units_per_period=program.per_person_units,
        used=used,
        left=left,
        period=program.per_person_period or "month",
        renews_on=renews.isoformat(),
    )


def _invalid(field: str, message: str, code: str, **extra: object) -> ValidationFailed:
    """A refusal shown next to the request body's ``field``."""
    return ValidationFailed(
        f"{field}: {message}",
        code=code,
        errors=[{"field": field, "in": "body", "message": message, "type": code}],
        **extra,
    )


def _exhausted(program: FundedProgram, used: int, offering: CatalogOffering) -> str:
    period, unit = PERIOD_NAMES[program.per_person_period or "month"], UNIT_NAMES[program.per_person_unit or "booking"]
    return (
        f"本{period}补贴已用完（每{period}{program.per_person_units}{unit}，已用{used}{unit}），"
        f"本次不享受补贴，按原价{_yuan(offering.price_fen)}元收费。"
    )


async def draw(
    session: AsyncSession,
    offering: CatalogOffering,
    resident: Resident,
    on: date,
    *,
    claim: uuid.UUID | None = None,
) -> Pricing:
    """Price a booking of ``offering`` on the local day ``on``, drawing the resident's unit and the pool's."""
    programs, held = await _candidates(session, offering, resident, on, claim)
    if len(programs) > 1:
        # Tried cheapest first, locked in the lock order: her counters, then the pools, each by programme id.
        for program in sorted(programs, key=lambda p: p.id):
            await lock_allowance_on(session, program, resident.id, on)
        await catalog_service.lock_programs(session, [p.id for p in programs])
    notes: list[tuple[s.SubsidyReason, str]] = []
    for program in programs:
        start: date | None = None
        units = units_of(program, offering)
        if program.per_person_units is not None:
            start, _ = period_bounds(program.per_person_period or "month", on)
            if not await repository.draw(session, program.id, resident.id, start, units, program.per_person_units):
                used = await repository.used(session, program.id, resident.id, start)
                notes.append((ENTITLEMENT_USED_UP, _exhausted(program, used, offering)))
                continue
        if not await catalog_service.draw_quota(session, program.id):
            if start is not None:
                await repository.release(session, program.id, resident.id, start, units)
            notes.append((QUOTA_USED_UP, POOL_USED_UP_NOTE))
            continue
        return Pricing(program, start, units if start is not None else None, reason=SUBSIDISED)
    if notes:
        return _refused(notes)
    return await _unfunded(session, offering, on, held, tell_apart=False)


@dataclass(frozen=True)
class LockedFunding:
    """What a series' dates may draw, read under the locks ``lock_funding`` took: the programmes funding them
    (cheapest first), each one's days, the resident's units used per period and the units left of its pool."""

    resident_id: uuid.UUID
    days: list[date]
    held: dict[date, Standing]
    programs: list[FundedProgram]
    eligible: dict[uuid.UUID, list[date]]
    used: dict[uuid.UUID, dict[date, int]]
    left: dict[uuid.UUID, int]


async def lock_funding(
    session: AsyncSession, offering: CatalogOffering, resident: Resident, days: list[date]
) -> LockedFunding:
    """Lock what booking ``offering`` on ``days`` (a series' dates) may draw, in the booking service's lock order
    (``booking.bookings.service``): the resident's usage counters of the periods of the days (by programme id, then
    period), then the programmes' pools (by id). The caller takes the slots' units after this, never before,
    and then draws with ``draw_locked``: one statement per counter set whatever the number of dates."""
    evidence = await repository.evidence_of(session, resident.id) if resident.eligibility_tags and days else {}
    held = {day: _standing(resident, evidence, day) for day in set(days)}
    programs = (
        list(await catalog_service.programs_funding_between(session, offering.id, min(days), max(days))) if days else []
    )
    eligible: dict[uuid.UUID, list[date]] = {}
    used: dict[uuid.UUID, dict[date, int]] = {}
    left: dict[uuid.UUID, int] = {}
    for program in programs:
        tags = set(program.eligibility_tags)
        theirs = [
            day
            for day in days
            if program.start_date <= day <= program.end_date and (not tags or tags & held[day].valid)
        ]
        if theirs:
            eligible[program.id] = theirs
    drawn = sorted((p for p in programs if p.id in eligible), key=lambda p: p.id)
    for program in drawn:
        if program.per_person_units is not None:
            period = program.per_person_period or "month"
            starts = {period_bounds(period, day)[0] for day in eligible[program.id]}
            used[program.id] = await repository.lock_usage(session, program.id, resident.id, list(starts))
    for program in drawn:
        left[program.id] = await catalog_service.lock_pool(session, program.id)
    return LockedFunding(resident.id, list(days), held, programs, eligible, used, left)


async def draw_locked(
    session: AsyncSession, funding: LockedFunding, offering: CatalogOffering, days: list[date]
) -> list[Pricing]:
    """``draw`` for each local day of ``days`` (those of ``funding``'s days whose slots were taken, in order), with
    the outcome of drawing them one after the other: each programme's personal units and pool drawn by one guarded
    write each for all the dates it funds. A date a programme cannot fund tries the next."""
    if not days:
        return []
    found: dict[int, Pricing] = {}
    notes: dict[int, list[tuple[s.SubsidyReason, str]]] = {i: [] for i in range(len(days))}
    for program in funding.programs:
        theirs = set(funding.eligible.get(program.id, ()))
        eligible = [i for i, day in enumerate(days) if i not in found and day in theirs]
        if eligible:
            found.update(await _fund(session, funding, program, offering, {i: days[i] for i in eligible}, notes))
    return [
        found.get(i)
        or (
            _refused(notes[i])
            if notes[i]
            else await _unfunded(session, offering, day, funding.held[day], tell_apart=False)
        )
        for i, day in enumerate(days)
    ]


async def _fund(
    session: AsyncSession,
    funding: LockedFunding,
    program: FundedProgram,
    offering: CatalogOffering,
    days: dict[int, date],
    notes: dict[int, list[tuple[s.SubsidyReason, str]]],
) -> dict[int, Pricing]:
    """What ``program`` funds of ``days`` (in order) drawn one after the other, each a unit of the resident's
    entitlement of its period while she has one and a unit of the pool while it has one; the reason for each
    other date is added to its ``notes``. The counters were read under their locks by ``lock_funding``."""
    units, limit = units_of(program, offering), program.per_person_units
    starts: dict[int, date] = {}
    used: dict[date, int] = {}
    if limit is not None:
        starts = {i: period_bounds(program.per_person_period or "month", day)[0] for i, day in days.items()}
        used = dict(funding.used[program.id])
    before = dict(used)
    left = funding.left[program.id]
    funded: list[int] = []
    for i in days:
        if limit is not None and used[starts[i]] + units > limit:
            # Her units of the period are used up (by the earlier dates among these): ``draw``'s note.
            notes[i].append((ENTITLEMENT_USED_UP, _exhausted(program, used[starts[i]], offering)))
        elif left > 0:
            funded.append(i)
            left -= 1
            if limit is not None:
                used[starts[i]] += units
        else:
            # A unit of hers is free but the pool is used up: ``draw`` gives hers back.
            notes[i].append((QUOTA_USED_UP, POOL_USED_UP_NOTE))
    if funded and not await catalog_service.draw_quota_units(session, program.id, len(funded)):
        raise Conflict("The programme's quota changed meanwhile; try again.", code="conflict")
    taken = {start: n - before[start] for start, n in used.items() if n > before[start]}
    if limit is not None and not await repository.take_usage(session, program.id, funding.resident_id, taken, limit):
        raise Conflict("The resident's entitlement changed meanwhile; try again.", code="conflict")
    return {i: Pricing(program, starts.get(i), units if limit is not None else None, reason=SUBSIDISED) for i in funded}


async def peek(
    session: AsyncSession, offering: CatalogOffering, resident: Resident, on: date, *, claim: uuid.UUID | None = None
) -> tuple[Pricing, s.PersonalEntitlement | None]:
    """What ``draw`` would give now, without drawing; and the resident's entitlement of the first programme that
    limits it per person (what she has left this period)."""
    programs, held = await _candidates(session, offering, resident, on, claim)
    notes: list[tuple[s.SubsidyReason, str]] = []
    shown: s.PersonalEntitlement | None = None
    found: Pricing | None = None
    for program in programs:
        start: date | None = None
        units = units_of(program, offering)
        if program.per_person_units is not None:
            start, _ = period_bounds(program.per_person_period or "month", on)
            used = await repository.used(session, program.id, resident.id, start)
            shown = shown or _entitlement(program, offering, on, used)
            if used + units > program.per_person_units:
                notes.append((ENTITLEMENT_USED_UP, _exhausted(program, used, offering)))
                continue
        if program.used >= program.quota:
            notes.append((QUOTA_USED_UP, POOL_USED_UP_NOTE))
            continue
        found = found or Pricing(program, start, units if start is not None else None, reason=SUBSIDISED)
        if shown is not None:
            break
    if found is not None:
        return found, shown
    if notes:
        return _refused(notes), shown
    return await _unfunded(session, offering, on, held, tell_apart=True), shown


def _entitlement(
    program: FundedProgram, offering: CatalogOffering | None, on: date, used: int
) -> s.PersonalEntitlement:
    period = program.per_person_period or "month"
    start, end = period_bounds(period, on)
    limit = program.per_person_units or 0
    return s.PersonalEntitlement(
        contract_id=program.contract_id,
        offering_id=program.offering_id,
        offering_name=offering.name_zh if offering else None,
        units_per_period=limit,
        period=period,
        unit=program.per_person_unit or "booking",
        period_start=start,
        period_end=end,
        used=used,
        left=max(limit - used, 0),
        subsidy_per_unit_fen=max(program.unit_price_fen - program.resident_price_fen, 0),
    )


async def lock_allowance(
    session: AsyncSession, program_id: uuid.UUID, resident_id: uuid.UUID, period_starts: list[date]
) -> None:
    """Lock the resident's usage counters of ``period_starts`` (sorted) before the programme's pool and the slots a
    cancellation or a re-pricing then changes: the lock order of ``booking.bookings.service``."""
    await repository.lock_usage(session, program_id, resident_id, period_starts)


async def lock_allowance_on(session: AsyncSession, program: FundedProgram, resident_id: uuid.UUID, on: date) -> None:
    """``lock_allowance`` of the period ``on`` falls in, when ``program`` limits what each person gets."""
    if program.per_person_units is not None:
        start, _ = period_bounds(program.per_person_period or "month", on)
        await repository.lock_usage(session, program.id, resident_id, [start])


async def give_back(
    session: AsyncSession, program_id: uuid.UUID, resident_id: uuid.UUID, period_start: date, units: int
) -> None:
    """A cancelled, rejected or expired booking returns the resident's units."""
    await repository.release(session, program_id, resident_id, period_start, units)


def _period_name(period: str, start: date) -> tuple[str, str]:
    """A period as an operator reads it out, in Chinese and in English: 2026年12月 / December 2026."""
    if period == "week":
        return f"{start.year}年{start.month}月{start.day}日起的一周", f"the week of {start.isoformat()}"
    return f"{start.year}年{start.month}月", start.strftime("%B %Y")


async def still_funds(
    session: AsyncSession, program_id: uuid.UUID, offering: CatalogOffering, resident_id: uuid.UUID, to_day: date
) -> None:
    """Whether a subsidised booking may keep its programme's subsidy when moved to ``to_day``: 409 when that day
    the programme no longer funds the offering (``program_not_funding_then``: its contract ended or ends before
    it), the evidence of the tag it asks for has expired by then (``evidence_expired``, naming the tag and the
    day), or she no longer holds such a tag (``no_longer_eligible``). The booking is then left as it was: the
    operator books the new day at the full price instead, as for a used-up month."""
    program = await catalog_service.get_program(session, program_id)
    if program is None:
        return
    price = _yuan(offering.price_fen)
    unchanged = f"不能按补贴价改到这一天，原预约未变；可按原价{price}元另约。"
    funding = await catalog_service.programs_funding(session, offering.id, to_day)
    if all(p.id != program.id for p in funding):
        raise Conflict(
            f"补贴项目{to_day.month}月{to_day.day}日不再资助这项服务，{unchanged} The programme does not fund "
            "this service on the new day: the booking is unchanged; book that day at the full price instead.",
            code="program_not_funding_then",
            contract_id=str(program.contract_id),
            date=to_day.isoformat(),
            price_fen=offering.price_fen,
        )
    if not program.eligibility_tags:
        return
    resident = await residents_service.get(session, resident_id)
    if resident is None:
        return
    held = await standing(session, resident, to_day)
    if set(program.eligibility_tags) & held.valid:
        return
    expired = {tag: until for tag, until in held.expired.items() if tag in program.eligibility_tags}
    if expired:
        tag, until = min(expired.items(), key=lambda item: item[1])
        raise Conflict(
            f"“{TAG_NAMES.get(tag, tag)}”资格证明已于{until.month}月{until.day}日到期，{unchanged} The evidence "
            "of the resident's eligibility has expired by the new day: the booking is unchanged; book that day at "
            "the full price instead.",
            code="evidence_expired",
            tag=tag,
            expires_on=until.isoformat(),
            date=to_day.isoformat(),
            price_fen=offering.price_fen,
        )
    raise Conflict(
        f"该居民已不符合本项目的补贴条件，{unchanged} The resident is no longer eligible for the programme: the "
        "booking is unchanged; book that day at the full price instead.",
        code="no_longer_eligible",
        required_tags=list(program.eligibility_tags),
        price_fen=offering.price_fen,
    )


async def move_units(
    session: AsyncSession,
    program_id: uuid.UUID,
    resident_id: uuid.UUID,
    period_start: date,
    units: int,
    *,
    to_day: date,
    price_fen: int,
) -> date:
    """A subsidised booking moved to ``to_day``: when that falls in another period of the programme's personal
    allowance, its units go back to the old period and are drawn in the new one (a guarded write: of racing moves
    into a period with one unit left, one draws it). The period the booking's units are now in; 409
    ``entitlement_used_up`` naming the period and what is left when it has too few."""
    program = await catalog_service.get_program(session, program_id)
    if program is None or program.per_person_units is None:
        return period_start
    period = program.per_person_period or "month"
    start, _ = period_bounds(period, to_day)
    if start == period_start:
        return period_start
    limit = program.per_person_units
    # Both periods' counters in date order: two moves of her bookings in opposite directions never cross.
    await repository.lock_usage(session, program.id, resident_id, [period_start, start])
    if not await repository.draw(session, program.id, resident_id, start, units, limit):
        used = await repository.used(session, program.id, resident_id, start)
        left = max(limit - used, 0)
        zh, en = _period_name(period, start)
        unit = UNIT_NAMES[program.per_person_unit or "booking"]
        raise Conflict(
            f"{zh}的补贴已用完（每{PERIOD_NAMES[period]}{limit}{unit}，已用{used}{unit}，剩余{left}{unit}），"
            f"不能改到这一天，原预约未变；可按原价{_yuan(price_fen)}元另约。 The resident's subsidised allowance for "
            f"{en} has {left} left: the booking is unchanged; book that day at the full price instead.",
            code="entitlement_used_up",
            period=period,
            unit=program.per_person_unit or "booking",
            period_start=start.isoformat(),
            units_per_period=limit,
            used=used,
            left=left,
        )
    await repository.release(session, program.id, resident_id, period_start, units)
    return start


# ---- what officials state, what operators record


def _program_entitlement(program: FundedProgram) -> s.ProgramEntitlement:
    return s.ProgramEntitlement(
        contract_id=program.contract_id,
        offering_id=program.offering_id,
        eligibility_tags=list(program.eligibility_tags),
        units_per_period=program.per_person_units or 0,
        period=program.per_person_period or "month",
        unit=program.per_person_unit or "booking",
        subsidy_per_unit_fen=max(program.unit_price_fen - program.resident_price_fen, 0),
    )


async def set_program_entitlement(
    session: AsyncSession, contract_id: uuid.UUID, offering_id: uuid.UUID, rule: s.EntitlementRule, *, by: Principal
) -> s.ProgramEntitlement:
    """The district states what each eligible person gets of a funded programme per period (officials, admins)."""
    if not by.has_any(Role.official, Role.admin):
        raise Forbidden("Only the district's officials state personal entitlements.")
    values = {"per_person_units": rule.units_per_period, "per_person_period": rule.period, "per_person_unit": rule.unit}
    program = await catalog_service.set_entitlement(session, contract_id, offering_id, values)
    if program is None:
        raise NotFound("No funded programme of this contract for this offering.", code="program_not_found")
    return _program_entitlement(program)


def _ensure_operator(by: Principal) -> None:
    if not by.has_any(Role.operator, Role.admin):
        raise Forbidden("Only operators record and re-check eligibility evidence.")


async def record_evidence(
    session: AsyncSession, resident_id: uuid.UUID, tag: str, data: s.EvidenceIn, *, by: Principal
) -> s.ResidentEntitlements:
    """An operator records the evidence of a tag (and gives the resident the tag): who verified it is the caller."""
    _ensure_operator(by)
    resident = await residents_service.get_visible(session, resident_id, by=by)
    if data.expires_on is not None and data.expires_on < data.verified_on:
        message = "不能早于核验日期。 Cannot be before the day it was verified."
        raise _invalid("expires_on", message, "expires_before_verified")
    now = utcnow()
    await repository.put_evidence(
        session,
        {
            "id": uuid.uuid4(),
            "resident_id": resident.id,
            "tag": tag,
            "evidence_type": data.evidence_type,
            "verified_by": by.subject[:160],
            "verified_by_name": by.name[:100] if by.name else None,
            "verified_on": data.verified_on,
            "expires_on": data.expires_on,
            "created_at": now,
            "updated_at": now,
        },
    )
    if tag not in resident.eligibility_tags:
        await residents_service.set_eligibility_tags(session, resident.id, [*resident.eligibility_tags, tag])
    await session.refresh(resident)
    return await for_resident(session, resident.id, None, by=by)


async def for_resident(
    session: AsyncSession, resident_id: uuid.UUID, on: date | None, *, by: Principal, recheck_days: int = 30
) -> s.ResidentEntitlements:
    """The resident's card: each tag with its evidence, and what she has left this period of every programme that
    limits it per person and that she is eligible for (operators, admins, the resident, her helper)."""
    if not residents_service.may_see(by, resident_id):
        await helpers_service.require_helper(session, by, resident_id)
        resident = await residents_service.get(session, resident_id)
        if resident is None:
            raise NotFound("No such resident.", code="resident_not_found")
    else:
        resident = await residents_service.get_visible(session, resident_id, by=by)
    on = on or utcnow().astimezone(SHANGHAI).date()
    evidence = await repository.evidence_of(session, resident.id)
    held = await standing(session, resident, on)
    eligibility = []
    for tag in sorted(resident.eligibility_tags):
        proof = evidence.get(tag)
        if proof is None:
            eligibility.append(s.Eligibility(tag=tag, status="no_evidence"))
            continue
        status = "valid"
        if proof.expires_on is not None and proof.expires_on < on:
            status = "expired"
        elif proof.expires_on is not None and proof.expires_on <= on + timedelta(days=recheck_days):
            status = "expiring"
        eligibility.append(
            s.Eligibility(
                tag=tag,
                evidence_type=proof.evidence_type,
                verified_by=proof.verified_by,
                verified_by_name=proof.verified_by_name,
                verified_on=proof.verified_on,
                expires_on=proof.expires_on,
                status=status,
            )
        )
    eligible = [
        (program, offering)
        for program, offering in await catalog_service.programs_with_entitlement(session, on)
        if not program.eligibility_tags or set(program.eligibility_tags) & held.valid
    ]
    starts = {p.id: period_bounds(p.per_person_period or "month", on)[0] for p, _ in eligible}
    used = await repository.used_by_program(session, resident.id, starts)
    return s.ResidentEntitlements(
        resident_id=resident.id,
        date=on,
        eligibility=eligibility,
        entitlements=[_entitlement(p, o, on, used.get(p.id, 0)) for p, o in eligible],
    )


@dataclass(frozen=True)
class Moved:
    """What a merge moved of a duplicate's entitlements: tags' evidence, and units drawn (all periods)."""

    evidence: int
    units: int


def _lasts_longer(one: EligibilityEvidence, other: EligibilityEvidence) -> bool:
    """Whether ``one`` holds until later than ``other`` (evidence without an expiry holds the longest)."""
    if one.expires_on is None or other.expires_on is None:
        return one.expires_on is None and other.expires_on is not None
    return one.expires_on > other.expires_on


async def move_to_resident(session: AsyncSession, from_id: uuid.UUID, to_id: uuid.UUID) -> Moved:
    """A merged duplicate's entitlements become the survivor's. Evidence of a tag only the duplicate proved moves
    (who verified it, when, its expiry). Where both proved one tag, the evidence that holds longer is kept and the
    other is dropped with its open re-checks: evidence is one row per tag and keeps no history. Re-checks move. The
    units each record drew per programme and period add up, so the survivor's "left this period" counts the
    bookings of both, which move with them."""
    theirs = await repository.evidence_of(session, from_id)
    ours = await repository.evidence_of(session, to_id)
    moved_evidence = 0
    for tag, proof in theirs.items():
        kept = ours.get(tag)
        if kept is not None and not _lasts_longer(proof, kept):
            await _drop(session, proof)
            continue
        if kept is not None:
            await _drop(session, kept)
        await repository.move_evidence(session, proof.id, to_id)
        moved_evidence += 1
    await repository.move_rechecks(session, from_id, to_id)
    units = 0
    for usage in await repository.usage_of(session, from_id):
        if usage.used:
            await repository.add_usage(session, usage.program_id, to_id, usage.period_start, usage.used)
            units += usage.used
    await repository.drop_usage(session, from_id)
    return Moved(evidence=moved_evidence, units=units)


async def _drop(session: AsyncSession, proof: EligibilityEvidence) -> None:
    if proof.expires_on is not None:
        await repository.drop_open_rechecks(session, proof.resident_id, proof.tag, proof.expires_on)
    await repository.drop_evidence_row(session, proof.id)


async def evidence_for_export(session: AsyncSession, resident_id: uuid.UUID) -> list[s.Eligibility]:
    """The eligibility evidence operators recorded about the resident, each tag's as it stands today."""
    today = utcnow().astimezone(SHANGHAI).date()
    shown = []
    for tag, proof in sorted((await repository.evidence_of(session, resident_id)).items()):
        expired = proof.expires_on is not None and proof.expires_on < today
        shown.append(
            s.Eligibility(
                tag=tag,
                evidence_type=proof.evidence_type,
                verified_by=proof.verified_by,
                verified_by_name=proof.verified_by_name,
                verified_on=proof.verified_on,
                expires_on=proof.expires_on,
                status="expired" if expired else "valid",
            )
        )
    return shown


async def forget_resident(session: AsyncSession, resident_id: uuid.UUID) -> None:
    """An erased resident's eligibility evidence and re-checks go with her data (her usage counts stay: numbers)."""
    await repository.forget_resident(session, resident_id)


# ---- re-checks


async def open_rechecks(
    sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime, lead_days: int, batch: int
) -> int:
    """Open a re-check for each tag whose evidence expires within ``lead_days`` of ``now`` (or has expired); one
    per tag and expiry, however often the sweep runs: the number opened."""
    today = now.astimezone(SHANGHAI).date()
    async with sessionmaker() as session:
        due = await repository.expiring(session, today + timedelta(days=lead_days), batch)
        opened = 0
        for proof in due:
            opened += await repository.open_recheck(
                session,
                {
                    "id": uuid.uuid4(),
                    "resident_id": proof.resident_id,
                    "tag": proof.tag,
                    "expires_on": proof.expires_on,
                    "opened_at": now,
                    "created_at": now,
                    "updated_at": now,
                },
            )
        await session.commit()
    return opened


async def rechecks(
    session: AsyncSession, *, by: Principal, open_only: bool, limit: int, offset: int
) -> tuple[list[EligibilityRecheck], int]:
    _ensure_operator(by)
    items, total = await repository.rechecks(session, open_only=open_only, limit=limit, offset=offset)
    return list(items), total


async def close_recheck(
    session: AsyncSession, recheck_id: uuid.UUID, data: s.RecheckClose, *, by: Principal, now: datetime
) -> EligibilityRecheck:
    """Close a re-check: ``renewed`` records the new evidence (its expiry), ``removed`` takes the tag away."""
    _ensure_operator(by)
    recheck = await repository.get_recheck(session, recheck_id)
    if recheck is None:
        raise NotFound("No such re-check.", code="recheck_not_found")
    if data.outcome == "renewed" and data.evidence is None:
        message = "续期需要填写新的证明。 Renewing needs the new evidence."
        raise _invalid("evidence", message, "evidence_required")
    closed = await repository.close_recheck(
        session,
        recheck.id,
        {
            "closed_at": now,
            "closed_by": by.subject[:160],
            "outcome": data.outcome,
            "note": data.note,
            "updated_at": now,
        },
    )
    if not closed:
        raise Conflict("This re-check is already closed.", code="recheck_already_closed")
    if data.outcome == "renewed" and data.evidence is not None:
        await record_evidence(session, recheck.resident_id, recheck.tag, data.evidence, by=by)
    else:
        resident = await residents_service.get(session, recheck.resident_id)
        if resident is not None:
            await residents_service.set_eligibility_tags(
                session, resident.id, [t for t in resident.eligibility_tags if t != recheck.tag]
            )
        await repository.drop_evidence(session, recheck.resident_id, recheck.tag)
    await session.refresh(recheck)
    return recheck
