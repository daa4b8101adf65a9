import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.models import Base
from service_kit.db import IdMixin, TimestampMixin

ERASED_NAME = "已删除居民"


class Resident(IdMixin, TimestampMixin, Base):
    """A resident who books community services, registered by an operator (or themself through the app).

    When a resident asks for deletion the personal fields are erased and the row stays as an anonymized
    reference for their past bookings and the acting-for trail (``erased_at`` set, phone and ID number gone)."""

    __tablename__ = "resident"

    name: Mapped[str] = mapped_column(String(50))
    # E.164 (``+8613812345678``): one resident per phone number; None once erased.
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    community_code: Mapped[str | None] = mapped_column(String(32), index=True)
    eligibility_tags: Mapped[list[Any]]
    # The ID-card number, AES-GCM encrypted; its keyed hash (blind index) finds it exactly; its masked form
    # (``1101**********1234``) is what every screen shows.
    id_card_encrypted: Mapped[str | None] = mapped_column(String(120))
    id_card_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    id_card_masked: Mapped[str | None] = mapped_column(String(18))
    birth_date: Mapped[date | None]
    address: Mapped[str | None] = mapped_column(String(200))
    # WGS-84 position of the address (what a check-in's distance is measured from).
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    emergency_contact_name: Mapped[str | None] = mapped_column(String(50))
    emergency_contact_phone: Mapped[str | None] = mapped_column(String(20))
    emergency_contact_relation: Mapped[str | None] = mapped_column(String(20))
    # PIPL consent: what the resident agreed to, which text, how, and when.
    consent_purpose: Mapped[str] = mapped_column(String(100), default="community_services")
    consent_version: Mapped[str] = mapped_column(String(20))
    consent_channel: Mapped[str] = mapped_column(String(16))
    consent_at: Mapped[datetime]
    registered_by: Mapped[str] = mapped_column(String(120))
    # The app account (token ``sub``: the gateway's resident identity) that proved this record's phone: at the
    # resident's self-registration, or at a sign-in by phone code to a record an operator registered. A change
    # of phone unlinks it (the new phone's sign-in links again); erasure clears it.
    account_subject: Mapped[str | None] = mapped_column(String(160), unique=True)
    erased_at: Mapped[datetime | None]

    def __repr__(self) -> str:  # never the phone or name: reprs end up in logs
        return f"Resident(id={self.id!s})"


class ResidentLink(IdMixin, Base):
    """An app account linked to a resident record, and the consent that link rests on (PIPL accountability).

    Written when the account proved the record's phone: at the resident's self-registration in the app
    (``how`` = ``self_registration``), or at a sign-in by phone code to a record an operator registered
    (``phone_sign_in``); again when the app reports a new privacy-notice version accepted at sign-in. Never
    changed or deleted: kept when the resident is erased (the resident id is then an anonymized reference).

    ``consent_source`` says what ``consent_version`` is: ``app`` — the privacy notice the resident accepted in
    the app (at sign-in, or in the self-registration); ``registration`` — the app reported none, so the link
    rests on the consent recorded when the record was registered (its version then, given by its channel, often
    by phone to an operator). A sign-in by phone code proves the phone; it is no consent of its own, and the
    record's registration consent is never rewritten by it."""

    __tablename__ = "resident_link"
    __table_args__ = (Index("ix_resident_link_resident_id_at", "resident_id", "at"),)

    resident_id: Mapped[uuid.UUID]
    account_subject: Mapped[str] = mapped_column(String(160))
    how: Mapped[str] = mapped_column(String(20))
    consent_version: Mapped[str] = mapped_column(String(20))
    consent_source: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
