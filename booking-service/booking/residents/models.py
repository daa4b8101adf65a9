import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from booking.models import Base
from service_kit.db import IdMixin, TimestampMixin
from service_kit.protection import ID_CARD, PHONE, Sealed, SealedColumns

ERASED_NAME = "已删除居民"


def _prefix_index(column: str) -> Index:
    """An index a ``LIKE 'zgl%'`` prefix query uses on PostgreSQL whatever the database's collation."""
    return Index(f"ix_resident_{column}", column, postgresql_ops={column: "varchar_pattern_ops"})


class Resident(IdMixin, TimestampMixin, Base):
    """A resident who books community services, registered by an operator (or themself through the app).

    When a resident asks for deletion the personal fields are erased and the row stays as an anonymized
    reference for their past bookings and the acting-for trail (``erased_at`` set, phone and ID number gone)."""

    __tablename__ = "resident"
    __table_args__ = (_prefix_index("name"), _prefix_index("name_pinyin"), _prefix_index("name_initials"))

    name: Mapped[str] = mapped_column(String(50))
    # The name as an operator types it on a keyboard (``zhangguilan``, ``zgl``: residents/pinyin.py), written with
    # the name through ``repository.sealed_values`` so a rename keeps them current.
    name_pinyin: Mapped[str | None] = mapped_column(String(200))
    name_initials: Mapped[str | None] = mapped_column(String(50))
    # The phone in E.164 (``+8613812345678``), sealed (service_kit/protection.py); None once erased. Found by its
    # blind index, exactly (one resident per phone: unique) or by its last 4 digits (the console's search).
    phone_sealed: Mapped[str | None] = mapped_column(String(120))
    phone_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone_last4_index: Mapped[str | None] = mapped_column(String(64), index=True)
    community_code: Mapped[str | None] = mapped_column(String(32), index=True)
    eligibility_tags: Mapped[list[Any]]
    # The ID-card number, AES-GCM encrypted; its keyed hash (blind index) finds it exactly; its masked form
    # (``1101**********1234``) is what every screen shows.
    id_card_encrypted: Mapped[str | None] = mapped_column(String(120))
    id_card_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    id_card_masked: Mapped[str | None] = mapped_column(String(18))
    birth_date: Mapped[date | None]
    address: Mapped[str | None] = mapped_column(String(200))
    # How the provider's staff get in (gate code, floor, the dog): shown only to the staff member assigned to a
    # door-to-door visit, around its time.
    access_notes: Mapped[str | None] = mapped_column(String(300))
    # WGS-84 position of the address (what a check-in's distance is measured from).
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    emergency_contact_name: Mapped[str | None] = mapped_column(String(50))
    # Sealed, and never looked up (so no index).
    emergency_contact_phone_sealed: Mapped[str | None] = mapped_column(String(120))
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
    # A duplicate record an operator merged into another: the row stays as a tombstone naming the survivor
    # (its personal data moved or dropped), so old ids still lead somewhere.
    merged_into_id: Mapped[uuid.UUID | None]
    merged_at: Mapped[datetime | None]

    # The phones in plain text, opened with the session's keyring; written through ``repository.sealed_values``.
    phone = Sealed("phone_sealed", PHONE)
    emergency_contact_phone = Sealed("emergency_contact_phone_sealed", PHONE)

    def __repr__(self) -> str:  # never the phone or name: reprs end up in logs
        return f"Resident(id={self.id!s})"


class ResidentAddressGram(Base):
    """One character gram of a resident's address (``residents/address_grams.py``): what the console's search for
    part of an address reads instead of every address. Written with the address, through
    ``repository.add`` and ``repository.update_fields``, so registration, correction, merge and erasure keep it
    current. Grams compare by code point (SQLite's binary order; PostgreSQL's ``C`` collation), so those beginning
    with a character are one range of the primary key."""

    __tablename__ = "resident_address_grams"
    __table_args__ = (Index("ix_resident_address_grams_resident_id", "resident_id"),)

    gram: Mapped[str] = mapped_column(String(2).with_variant(String(2, collation="C"), "postgresql"), primary_key=True)
    resident_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


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


MERGED_NAME = "已合并居民"


def without_personal_data(name: str) -> dict[str, Any]:
    """A record's values once its person is gone from it (erased, or merged into another record): ``name``
    (``ERASED_NAME``, ``MERGED_NAME``) in place of theirs, and nothing personal left."""
    return {
        "name": name,
        "phone": None,
        "community_code": None,
        "eligibility_tags": [],
        "id_card_encrypted": None,
        "id_card_index": None,
        "id_card_masked": None,
        "birth_date": None,
        "address": None,
        "access_notes": None,
        "latitude": None,
        "longitude": None,
        "emergency_contact_name": None,
        "emergency_contact_phone": None,
        "emergency_contact_relation": None,
        "account_subject": None,
    }


_ACTIVE_GRANT_SQL = text("revoked_at IS NULL")


class HelperGrant(IdMixin, Base):
    """A resident's authorisation of a relative's own resident account (the helper) to act for them: see and
    make bookings, cancel, complain and record needs on their behalf. Given by the resident in the app or by an
    operator recording the resident's consent (``consent_channel``); revoked by either, or by the helper stepping
    down. Never deleted: a revoked grant stays as the record of who could act when."""

    __tablename__ = "helper_grant"
    __table_args__ = (
        # One active grant per resident and helper; the database decides, even when two grants race.
        Index(
            "uq_helper_grant_resident_id_helper_active",
            "resident_id",
            "helper_resident_id",
            unique=True,
            sqlite_where=_ACTIVE_GRANT_SQL,
            postgresql_where=_ACTIVE_GRANT_SQL,
        ),
        Index("ix_helper_grant_helper_resident_id", "helper_resident_id"),
    )

    resident_id: Mapped[uuid.UUID] = mapped_column(index=True)
    helper_resident_id: Mapped[uuid.UUID]
    # How the resident calls the helper (女儿, 儿子, 侄女 …): what the operator's card shows.
    relation: Mapped[str | None] = mapped_column(String(20))
    consent_channel: Mapped[str] = mapped_column(String(16))
    granted_by: Mapped[str] = mapped_column(String(160))
    granted_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(160))
    # resident, operator, helper (stepped down), merged (the records were merged: a new grant replaces it)
    revoked_reason: Mapped[str | None] = mapped_column(String(16))


class ResidentMerge(IdMixin, Base):
    """An operator's merge of a duplicate record into the survivor (one person, one record), and why."""

    __tablename__ = "resident_merge"

    survivor_id: Mapped[uuid.UUID] = mapped_column(index=True)
    duplicate_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    reason: Mapped[str] = mapped_column(String(500))
    merged_by: Mapped[str] = mapped_column(String(160))
    merged_by_name: Mapped[str | None] = mapped_column(String(100))
    bookings_moved: Mapped[int]
    at: Mapped[datetime]


# What the background job seals again after a data-key rotation (service_kit.protection.resealing).
SEALED = [
    SealedColumns(
        Resident,
        {"phone_sealed": PHONE, "emergency_contact_phone_sealed": PHONE, "id_card_encrypted": ID_CARD},
    )
]
