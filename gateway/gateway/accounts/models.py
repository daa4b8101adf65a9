import uuid
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models import Base
from service_kit.db import IdMixin, TimestampMixin


class Account(IdMixin, TimestampMixin, Base):
    """A person who signs in with a username and password: operator, official, provider staff, admin…"""

    __tablename__ = "account"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[Any]]
    name: Mapped[str | None] = mapped_column(String(120))
    provider_id: Mapped[uuid.UUID | None]
    resident_id: Mapped[uuid.UUID | None]
    # A street-scoped official's street (the registry's street code), carried in their tokens; None: district-wide.
    street_code: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(default=True)
