import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from booking.models import Base
from service_kit.db import IdMixin, TimestampMixin
from service_kit.protection import PHONE, Sealed, SealedColumns


class Channel(StrEnum):
    inbox = "inbox"
    sms = "sms"


class DeliveryStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"
    deferred = "deferred"
    suppressed = "suppressed"


class Notification(IdMixin, Base):
    """One message in a resident's inbox. A helper's copy of a parent's message is a row of the helper's own
    (``about_resident_id`` = the parent); one row per event and recipient."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("event_id", "resident_id"),
        Index("ix_notification_resident_id_created_at", "resident_id", "created_at"),
    )

    resident_id: Mapped[uuid.UUID]
    about_resident_id: Mapped[uuid.UUID | None]
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(String(500))
    # The event that caused it (``reminder:<booking id>:<slot>`` for a reminder, which has no event).
    event_id: Mapped[str] = mapped_column(String(120))
    # The booking, complaint or need it is about.
    subject_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


class NotificationDelivery(IdMixin, TimestampMixin, Base):
    """A message's fate on one channel: the inbox (always ``sent``) or SMS (``pending`` → ``sent``; ``deferred``
    until the quiet hours end; ``failed`` and retried at ``next_attempt_at`` until ``attempts`` run out;
    ``suppressed`` with the reason: the resident turned the kind off, no phone, the phone's rate limit).

    Most go to the resident's own phone (``recipient`` None). A message to someone else about the resident (an
    urgent call's escalation to their emergency contact, or to their community's duty phone) names the
    ``recipient`` and carries the number it goes to (``to_phone``, sealed), and has no inbox message."""

    __tablename__ = "notification_delivery"
    __table_args__ = (
        UniqueConstraint("event_id", "resident_id", "channel"),
        Index("ix_notification_delivery_due", "status", "next_attempt_at"),
        Index("ix_notification_delivery_phone_key_sent_at", "phone_key", "sent_at"),
    )

    notification_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("notification.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(120))
    resident_id: Mapped[uuid.UUID]
    channel: Mapped[Channel] = mapped_column(Enum(Channel, native_enum=False, length=16))
    kind: Mapped[str] = mapped_column(String(40))
    # The provider template's parameters, in order, and our text of it.
    params: Mapped[list[Any]]
    text: Mapped[str] = mapped_column(String(500))
    # The visit the message is about: a change to a visit due the same day is sent even in the quiet hours.
    about_at: Mapped[datetime | None]
    status: Mapped[DeliveryStatus] = mapped_column(Enum(DeliveryStatus, native_enum=False, length=16))
    reason: Mapped[str | None] = mapped_column(String(120))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    # A worker that claimed it holds it until then (a worker that died holding it delays it this long).
    lease_until: Mapped[datetime | None]
    # Where it went: masked for every view, and a keyed hash that counts the sends to one phone.
    phone_masked: Mapped[str | None] = mapped_column(String(20))
    phone_key: Mapped[str | None] = mapped_column(String(64))
    provider_message_id: Mapped[str | None] = mapped_column(String(80))
    sent_at: Mapped[datetime | None]
    # None: the resident's own phone. ``emergency_contact``, ``community_duty``: the number in ``to_phone``.
    recipient: Mapped[str | None] = mapped_column(String(32))
    to_phone_sealed: Mapped[str | None] = mapped_column(String(120))

    to_phone = Sealed("to_phone_sealed", PHONE)


class NotificationPreference(Base):
    """A resident's choices: the kinds they want no SMS for (the inbox gets everything), and whether their
    helpers get a copy of their messages."""

    __tablename__ = "notification_preference"

    resident_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sms_off: Mapped[list[Any]]
    copy_helpers: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime]


class NotificationHelper(Base):
    """Who copies whom: kept from ``resident.helper_granted`` / ``.helper_revoked`` events, the latest winning."""

    __tablename__ = "notification_helper"

    resident_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    helper_resident_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    grant_id: Mapped[uuid.UUID]
    active: Mapped[bool]
    as_of: Mapped[datetime]


# What the background job seals again after a data-key rotation (service_kit.protection.resealing).
SEALED = [SealedColumns(NotificationDelivery, {"to_phone_sealed": PHONE})]
