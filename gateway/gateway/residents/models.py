from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models import Base
from service_kit.db import IdMixin, TimestampMixin


class ResidentIdentity(IdMixin, TimestampMixin, Base):
    """A resident who signs in by phone. Its id is the ``resident_id`` in their tokens: the booking service
    registers a resident who registers themself under this same id (see the gateway's README)."""

    __tablename__ = "resident_identity"

    phone: Mapped[str] = mapped_column(String(20), unique=True)
    active: Mapped[bool] = mapped_column(default=True)


class OtpChallenge(IdMixin, TimestampMixin, Base):
    """One code sent to one phone: expires, is used at most once, and allows a few attempts."""

    __tablename__ = "otp_challenge"
    __table_args__ = (Index("ix_otp_challenge_phone_created_at", "phone", "created_at"),)

    phone: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    consumed_at: Mapped[datetime | None]
