import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models import Base
from service_kit.db import IdMixin


class RefreshToken(IdMixin, Base):
    """One refresh token (only its SHA-256 is kept). Each use replaces it by the next of its family;
    a used token presented again means it was stolen, and the whole family is revoked."""

    __tablename__ = "refresh_token"
    __table_args__ = (Index("ix_refresh_token_family_id", "family_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[uuid.UUID]
    account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    resident_identity_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("resident_identity.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
