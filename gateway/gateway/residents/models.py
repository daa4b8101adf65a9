import uuid
from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models import Base
from service_kit.db import IdMixin, TimestampMixin


class ResidentIdentity(IdMixin, TimestampMixin, Base):
    """A phone that signed in with a one-time code: the resident's app account (its id is their tokens' ``sub``).

    ``resident_id`` is the booking service's resident record of this phone, as booking last answered at a
    sign-in or refresh (the gateway asks it each time); None while booking has none, and then the tokens carry
    this identity's own id, under which a self-registration creates the record (see the gateway's README)."""

    __tablename__ = "resident_identity"

    phone: Mapped[str] = mapped_column(String(20), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    # One record, one identity: a record that moved to another phone is unlinked from the old phone's identity.
    resident_id: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    # The privacy notice version the resident last accepted in the app when signing in (None: never sent).
    consent_version: Mapped[str | None] = mapped_column(String(20))

    @property
    def token_resident_id(self) -> uuid.UUID:
        """The ``resident_id`` of this identity's tokens: its booking record's, or its own while it has none."""
        return self.resident_id or self.id


class OtpChallenge(IdMixin, TimestampMixin, Base):
    """One code sent to one phone: expires, is used at most once, and allows a few attempts."""

    __tablename__ = "otp_challenge"
    __table_args__ = (Index("ix_otp_challenge_phone_created_at", "phone", "created_at"),)

    phone: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    consumed_at: Mapped[datetime | None]
