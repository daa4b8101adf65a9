from datetime import date, datetime
from typing import Any

from sqlalchemy import String
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
    # The account (token ``sub``) of a resident who registered themself through the app.
    account_subject: Mapped[str | None] = mapped_column(String(160), unique=True)
    erased_at: Mapped[datetime | None]

    def __repr__(self) -> str:  # never the phone or name: reprs end up in logs
        return f"Resident(id={self.id!s})"
