"""Every event Linli services exchange, defined once and imported by producers and consumers alike.

Type names are ``linli.<aggregate>.<event>.v<N>``; the NATS subject equals the type. A breaking change to
a payload is a new version (``.v2``) published beside the old one until every consumer has moved.
Payloads carry ids and facts, never a resident's personal data (phone, ID number, address).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class EventData(BaseModel):
    """Base of every event payload. ``type`` is the CloudEvents type; ``subject_field`` names the aggregate id."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: ClassVar[str]
    subject_field: ClassVar[str] = ""

    def subject(self) -> str | None:
        value = getattr(self, self.subject_field, None) if self.subject_field else None
        return str(value) if value is not None else None


EVENT_TYPES: dict[str, type[EventData]] = {}


E = TypeVar("E", bound=type[EventData])


def event_type(name: str, subject_field: str = "") -> Callable[[E], E]:
    """Register a payload class under its versioned type name."""

    def register(cls: E) -> E:
        if name in EVENT_TYPES:
            raise ValueError(f"event type {name} registered twice")
        cls.type = name
        cls.subject_field = subject_field
        EVENT_TYPES[name] = cls
        return cls

    return register


# ---------------------------------------------------------------- provider registry

ProviderKind = Literal["public_welfare", "commercial", "startup"]
OfferingMode = Literal["door_to_door", "at_center", "online"]


class ProviderStatusChanged(EventData):
    provider_id: uuid.UUID
    name: str
    kind: ProviderKind
    status: str
    reason: str | None = None


@event_type("linli.provider.verified.v1", "provider_id")
class ProviderVerified(ProviderStatusChanged):
    pass


@event_type("linli.provider.suspended.v1", "provider_id")
class ProviderSuspended(ProviderStatusChanged):
    pass


@event_type("linli.provider.reinstated.v1", "provider_id")
class ProviderReinstated(ProviderStatusChanged):
    pass


class ReferenceData(EventData):
    """A row of the registry's reference data (taxonomy, gazetteer) as it now is.

    ``version`` grows with every change of the row: a consumer keeps the highest it has seen and ignores an
    older one arriving late. The registry emits one when the row is created or changed, and once for every row
    that was never announced (rows that existed before these events did), so a consumer that reads the stream
    from its start learns the whole reference data. Nothing here is personal data."""

    version: int = Field(ge=1)


@event_type("linli.category.upserted.v1", "code")
class CategoryUpserted(ReferenceData):
    """A category of the service taxonomy (``elderly`` or its leaf ``elderly.meal_table``). Categories are
    seeded and never removed; a removal would be a ``linli.category.retired.v1`` of its own."""

    code: str = Field(min_length=1, max_length=64)
    parent_code: str | None = None
    name_zh: str
    name_en: str | None = None


@event_type("linli.community.upserted.v1", "code")
class CommunityUpserted(ReferenceData):
    """A community (社区) of the gazetteer; ``code`` is ``<street>.<community>`` (``gongchen.shidai_jiahe``)."""

    code: str = Field(min_length=1, max_length=64)
    street_code: str
    name_zh: str
    name_en: str | None = None
    lat: float
    lng: float


@event_type("linli.service_center.upserted.v1", "center_id")
class ServiceCenterUpserted(ReferenceData):
    """A regional community service center (区域性社区综合服务中心): who runs it and the communities it serves."""

    center_id: uuid.UUID
    name_zh: str
    name_en: str | None = None
    operator_id: uuid.UUID | None = None
    communities: tuple[str, ...] = ()


class WeeklyRule(BaseModel):
    """Open on ``weekday`` (0 = Monday) from ``start`` to ``end`` local time, slots of the offering's duration."""

    model_config = ConfigDict(frozen=True)

    weekday: int = Field(ge=0, le=6)
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


class ScheduleException(BaseModel):
    """A dated change: ``closed`` for the day, or ``open`` with its own hours (an extra working day)."""

    model_config = ConfigDict(frozen=True)

    date: date
    kind: Literal["closed", "open"]
    start: str | None = None
    end: str | None = None
    reason: str | None = None


class OfferingSnapshot(EventData):
    """Everything booking-service needs to compute availability and price for an offering."""

    offering_id: uuid.UUID
    provider_id: uuid.UUID
    provider_name: str
    category_code: str
    name_zh: str
    name_en: str | None = None
    mode: OfferingMode
    price_fen: int = Field(ge=0)
    duration_minutes: int = Field(gt=0)
    capacity_per_slot: int = Field(gt=0)
    timezone: str = "Asia/Shanghai"
    weekly_rules: tuple[WeeklyRule, ...] = ()
    exceptions: tuple[ScheduleException, ...] = ()
    target_groups: tuple[str, ...] = ()
    auto_confirm: bool = False
    status: Literal["draft", "published", "withdrawn"]
    version: int = Field(ge=1)
    # Where the offering is (its own point or its center's, WGS-84) and whom a door-to-door one serves: booking
    # finds funded alternatives in a resident's 15-minute circle from them. Optional, added later: an older
    # snapshot without them locates nothing.
    latitude: float | None = None
    longitude: float | None = None
    service_radius_m: int | None = None
    service_communities: tuple[str, ...] = ()
    # The service center it is given at (its name and street address), for the place a booking answer shows; None
    # for a door-to-door or online offering, or one with a point of its own. Optional, added later.
    place_name: str | None = None
    place_address: str | None = None


@event_type("linli.offering.published.v1", "offering_id")
class OfferingPublished(OfferingSnapshot):
    pass


@event_type("linli.offering.updated.v1", "offering_id")
class OfferingUpdated(OfferingSnapshot):
    pass


@event_type("linli.offering.withdrawn.v1", "offering_id")
class OfferingWithdrawn(OfferingSnapshot):
    pass


# ---------------------------------------------------------------- booking

BookingChannel = Literal["app", "phone", "walk_in", "provider_api"]


class BookingChanged(EventData):
    """A booking's state after a transition. ``resident_id`` is an opaque id, never personal data."""

    booking_id: uuid.UUID
    offering_id: uuid.UUID
    provider_id: uuid.UUID
    resident_id: uuid.UUID | None
    status: str
    channel: BookingChannel
    slot_start: datetime
    slot_end: datetime
    price_fen: int = Field(ge=0)
    funded_contract_id: uuid.UUID | None = None
    subsidy_fen: int = Field(default=0, ge=0)
    actor: str | None = None
    reason: str | None = None
    #: Why the delivery evidence of a started or completed visit is doubtful (``started_too_early``,
    #: ``completed_too_fast``, ``far_from_place``, ``unassigned_staff``, ``outside_window``). A suspect visit
    #: is not payable until an official accepts it.
    suspect_reasons: tuple[str, ...] = ()
    #: The resident's helper (a relative's resident id) who acted for the resident, if one did.
    helper_resident_id: uuid.UUID | None = None
    occurred_at: datetime


@event_type("linli.booking.created.v1", "booking_id")
class BookingCreated(BookingChanged):
    pass


@event_type("linli.booking.confirmed.v1", "booking_id")
class BookingConfirmed(BookingChanged):
    pass


@event_type("linli.booking.rejected.v1", "booking_id")
class BookingRejected(BookingChanged):
    pass


@event_type("linli.booking.cancelled.v1", "booking_id")
class BookingCancelled(BookingChanged):
    pass


@event_type("linli.booking.rescheduled.v1", "booking_id")
class BookingRescheduled(BookingChanged):
    previous_slot_start: datetime | None = None


@event_type("linli.booking.no_show.v1", "booking_id")
class BookingNoShow(BookingChanged):
    pass


@event_type("linli.booking.expired.v1", "booking_id")
class BookingExpired(BookingChanged):
    pass


@event_type("linli.booking.started.v1", "booking_id")
class BookingStarted(BookingChanged):
    pass


@event_type("linli.booking.completed.v1", "booking_id")
class BookingCompleted(BookingChanged):
    pass


@event_type("linli.booking.repriced.v1", "booking_id")
class BookingRepriced(BookingChanged):
    """A booking's price changed with its status unchanged: a subsidised unit of a funded programme, waited for
    in the quota line, now pays part of a booking first made at the full price. ``price_fen`` is what the
    resident now pays and ``funded_contract_id`` the contract that pays the rest; ``previous_price_fen`` what
    she was to pay before."""

    previous_price_fen: int = Field(default=0, ge=0)


@event_type("linli.booking.provider_missed.v1", "booking_id")
class BookingProviderMissed(BookingChanged):
    """A confirmed visit had no check-in by the end of its slot: the provider did not come. Operators are
    alerted to call the resident; procurement records it against the funding contract."""


# ---------------------------------------------------------------- residents (booking-service owns them)


@event_type("linli.resident.merged.v1", "survivor_id")
class ResidentMerged(EventData):
    """An operator merged a duplicate record into the survivor: everything filed under ``duplicate_id``
    (complaints, needs, ratings) now belongs to ``survivor_id``; the duplicate no longer exists."""

    duplicate_id: uuid.UUID
    survivor_id: uuid.UUID
    merged_by: str
    occurred_at: datetime


class ResidentHelperChanged(EventData):
    """A resident authorised (or stopped authorising) a relative's own resident account to act for them."""

    grant_id: uuid.UUID
    resident_id: uuid.UUID
    helper_resident_id: uuid.UUID
    occurred_at: datetime


@event_type("linli.resident.helper_granted.v1", "resident_id")
class ResidentHelperGranted(ResidentHelperChanged):
    pass


@event_type("linli.resident.helper_revoked.v1", "resident_id")
class ResidentHelperRevoked(ResidentHelperChanged):
    pass


@event_type("linli.resident.erased.v1", "resident_id")
class ResidentErased(EventData):
    """A resident's personal data was erased (PIPL deletion), emitted in the erasure's own transaction. Every
    service that holds anything of the person removes or anonymises it, keeping what the law and the audit need
    without personal data (booking ids, amounts, anonymised ratings). The resident id only: never the data."""

    resident_id: uuid.UUID


# ---------------------------------------------------------------- feedback


@event_type("linli.rating.submitted.v1", "rating_id")
class RatingSubmitted(EventData):
    rating_id: uuid.UUID
    booking_id: uuid.UUID
    provider_id: uuid.UUID
    offering_id: uuid.UUID
    stars: int = Field(ge=1, le=5)
    dimensions: dict[str, int] = Field(default_factory=dict)
    submitted_at: datetime


@event_type("linli.rating.invitation_changed.v1", "invitation_id")
class RatingInvitationChanged(EventData):
    """A resident's invitation to rate a completed booking was opened (``pending``) or used (``rated``). Nobody
    needs to apply it: every feedback API process hears it (a plain NATS subscription) and drops what it kept of
    that resident's invitations (service_kit.readmostly), whichever process wrote the change."""

    invitation_id: uuid.UUID
    booking_id: uuid.UUID
    resident_id: uuid.UUID
    status: Literal["pending", "rated"]
    occurred_at: datetime


@event_type("linli.score.updated.v1", "subject_id")
class ScoreUpdated(EventData):
    """A provider's or offering's Bayesian score changed. ``score`` is on the 1–5 star scale."""

    subject_kind: Literal["provider", "offering"]
    subject_id: uuid.UUID
    provider_id: uuid.UUID
    score: float = Field(ge=0, le=5)
    rating_count: int = Field(ge=0)
    complaint_rate: float = Field(default=0.0, ge=0)
    no_show_rate: float = Field(default=0.0, ge=0)


class ComplaintChanged(EventData):
    complaint_id: uuid.UUID
    #: The eight digits the complainant was given (feedback's complaint reference); a message about the
    #: complaint repeats them. None in events written before complaints had one.
    reference: str | None = None
    category: str
    severity: str
    status: str
    provider_id: uuid.UUID | None = None
    booking_id: uuid.UUID | None = None
    offering_id: uuid.UUID | None = None
    center_id: uuid.UUID | None = None
    #: The resident the complaint is for (told of its progress); none for an anonymous or official one.
    resident_id: uuid.UUID | None = None
    occurred_at: datetime


@event_type("linli.complaint.opened.v1", "complaint_id")
class ComplaintOpened(ComplaintChanged):
    pass


@event_type("linli.complaint.resolved.v1", "complaint_id")
class ComplaintResolved(ComplaintChanged):
    pass


@event_type("linli.complaint.escalated.v1", "complaint_id")
class ComplaintEscalated(ComplaintChanged):
    pass


@event_type("linli.need.submitted.v1", "need_id")
class NeedSubmitted(EventData):
    need_id: uuid.UUID
    group_key: str
    category_code: str
    community_code: str | None = None
    target_group: str | None = None
    summary: str
    count: int = Field(ge=1)
    source: Literal["resident", "operator", "official", "coverage_gap"]
    submitted_at: datetime


NeedStage = Literal["received", "pooled", "in_call", "contracted", "in_service", "declined"]


@event_type("linli.need.status_changed.v1", "need_id")
class NeedStatusChanged(EventData):
    """One resident's need moved a step in its story (feedback-service tells its author): received → pooled
    (merged into a pool item) → in_call (call ``call_title``) → contracted (contract ``contract_title``) →
    in_service (``offering_ids`` can be booked near home); or declined, with a reason."""

    need_id: uuid.UUID
    resident_id: uuid.UUID | None = None
    status: NeedStage
    call_id: uuid.UUID | None = None
    call_title: str | None = None
    contract_id: uuid.UUID | None = None
    contract_title: str | None = None
    offering_ids: tuple[uuid.UUID, ...] = ()
    reason: str | None = None
    occurred_at: datetime


# ---------------------------------------------------------------- procurement


class FundedOffering(BaseModel):
    """An offering a contract pays for: eligible residents book it at ``resident_price_fen``."""

    model_config = ConfigDict(frozen=True)

    offering_id: uuid.UUID
    unit_price_fen: int = Field(ge=0)
    resident_price_fen: int = Field(default=0, ge=0)
    quota: int = Field(ge=0)
    eligibility_tags: tuple[str, ...] = ()


class ContractChanged(EventData):
    contract_id: uuid.UUID
    provider_id: uuid.UUID
    title: str
    amount_fen: int = Field(ge=0)
    start_date: date
    end_date: date
    status: str
    funded_offerings: tuple[FundedOffering, ...] = ()
    occurred_at: datetime


@event_type("linli.contract.signed.v1", "contract_id")
class ContractSigned(ContractChanged):
    pass


@event_type("linli.contract.amended.v1", "contract_id")
class ContractAmended(ContractChanged):
    pass


@event_type("linli.contract.terminated.v1", "contract_id")
class ContractTerminated(ContractChanged):
    reason: str | None = None


class KeptBooking(BaseModel):
    """One upcoming booking that keeps the subsidy it was quoted after its contract stopped funding it."""

    model_config = ConfigDict(frozen=True)

    booking_id: uuid.UUID
    offering_id: uuid.UUID
    subsidy_fen: int = Field(ge=0)


@event_type("linli.contract.funding_kept.v1", "contract_id")
class ContractFundingKept(EventData):
    """booking-service's answer to a termination (or an amendment that stops funding offerings): the residents'
    upcoming bookings that keep the price they were told, so the ended contract still owes their delivery.
    After a termination it is sent once, even with no bookings: procurement holds the contract's unpaid rest
    until it knows what to keep, then gives the remainder back to the fund."""

    contract_id: uuid.UUID
    cause: Literal["terminated", "amended"]
    bookings: tuple[KeptBooking, ...] = ()
    occurred_at: datetime


@event_type("linli.need.progressed.v1", "group_key")
class NeedProgressed(EventData):
    """A pool item (the needs sharing ``group_key``) moved a step in procurement: pooled, in a call, under a
    signed contract, or its funded offerings are bookable (in_service); or it was declined. feedback-service
    turns it into a ``need.status_changed`` for each author."""

    group_key: str
    status: NeedStage
    pool_need_id: uuid.UUID | None = None
    call_id: uuid.UUID | None = None
    call_title: str | None = None
    contract_id: uuid.UUID | None = None
    contract_title: str | None = None
    offering_ids: tuple[uuid.UUID, ...] = ()
    reason: str | None = None
    occurred_at: datetime


@event_type("linli.notice.published.v1", "notice_id")
class NoticePublished(EventData):
    notice_id: uuid.UUID
    kind: str
    title: str
    url_path: str
    published_at: datetime
    objection_deadline: date | None = None


class ProviderSanctionChanged(EventData):
    provider_id: uuid.UUID
    sanction_id: uuid.UUID
    measure: str
    reason: str
    until: date | None = None
    occurred_at: datetime


@event_type("linli.provider.sanctioned.v1", "provider_id")
class ProviderSanctioned(ProviderSanctionChanged):
    pass


@event_type("linli.provider.restored.v1", "provider_id")
class ProviderRestored(ProviderSanctionChanged):
    pass
