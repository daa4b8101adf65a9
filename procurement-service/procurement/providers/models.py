"""What procurement knows of providers, from the registry's and its own events: kind, standing, sanctions."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from procurement.models import Base


class ProviderStanding(Base):
    __tablename__ = "provider_standing"

    provider_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(32))
    # The registry's status (verified / suspended …) and when the registry announced it; None until it has.
    status: Mapped[str | None] = mapped_column(String(32))
    status_at: Mapped[datetime | None]
    sanctioned: Mapped[bool] = mapped_column(default=False)
    sanction_until: Mapped[date | None]
    sanction_reason: Mapped[str | None] = mapped_column(Text)
    sanction_at: Mapped[datetime | None]


class ProviderOffering(Base):
    """The offerings the registry announced (offering.published / updated / withdrawn): what a provider may
    promise in an application and what a contract may fund, only its own published ones."""

    __tablename__ = "provider_offering"

    offering_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    provider_id: Mapped[uuid.UUID] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(200))
    category_code: Mapped[str] = mapped_column(String(80))
    # draft / published / withdrawn, as of the registry's ``version`` of the offering.
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
