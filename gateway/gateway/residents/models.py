import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, Index, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models import Base
from service_kit.db import IdMixin, TimestampMixin
from service_kit.protection import PHONE, Sealed, SealedColumns, keyring_of


class ResidentIdentity(IdMixin, TimestampMixin, Base):
    """A phone that signed in with a one-time code: the resident's app account (its id is their tokens' ``sub``).

    ``resident_id`` is the booking service's resident record of this phone, as booking last answered at a
    sign-in or refresh (the gateway asks it each time); None while booking has none, and then the tokens carry
    this identity's own id, under which a self-registration creates the record (see the gateway's README)."""

    __tablename__ = "resident_identity"

    # The phone in E.164, sealed (service_kit/protection.py), found by its blind index: one identity per phone.
    phone_sealed: Mapped[str] = mapped_column(String(120))
    phone_index: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    # One record, one identity: a record that moved to another phone is unlinked from the old phone's identity.
    resident_id: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    # The privacy notice version the resident last accepted in the app when signing in (None: never sent).
    consent_version: Mapped[str | None] = mapped_column(String(20))

    phone = Sealed("phone_sealed", PHONE)

    @property
    def token_resident_id(self) -> uuid.UUID:
        """The ``resident_id`` of this identity's tokens: its booking record's, or its own while it has none."""
        return self.resident_id or self.id


class OtpChallenge(IdMixin, TimestampMixin, Base):
    """One code sent to one phone: expires, is used at most once, and allows a few attempts.

    The phone is kept only as its blind index (``phone_index``, ``for_phone``): codes are counted and found by it,
    and nothing ever reads the number back, so it is not stored, not even sealed."""

    __tablename__ = "otp_challenge"
    __table_args__ = (Index("ix_otp_challenge_phone_index_created_at", "phone_index", "created_at"),)

    phone_index: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    consumed_at: Mapped[datetime | None]

    @staticmethod
    def for_phone(session: AsyncSession, phone: str) -> ColumnElement[bool]:
        """The condition "a code sent to the E.164 ``phone``" (by its blind index, with the session's keyring)."""
        return OtpChallenge.phone_index == phone_index(session, phone)


def phone_index(session: AsyncSession, phone: str) -> str:
    """The blind index of the E.164 ``phone``: what ``resident_identity`` and ``otp_challenge`` hold of it."""
    return keyring_of(session).blind_index(PHONE, phone)


# What the background job seals again after a data-key rotation (service_kit.protection.resealing).
SEALED = [SealedColumns(ResidentIdentity, {"phone_sealed": PHONE})]
