import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models import Base
from service_kit.db import IdMixin, TimestampMixin


class ApiKey(IdMixin, TimestampMixin, Base):
    """A provider's system's key (``kind`` ``provider``) or an Open311 application's (``open311``, no provider).
    Only a public prefix (to find it) and the SHA-256 of the whole key are kept."""

    __tablename__ = "api_key"

    kind: Mapped[str] = mapped_column(String(16), default="provider", server_default="provider")
    provider_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[Any]]
    created_by: Mapped[str] = mapped_column(String(120))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
