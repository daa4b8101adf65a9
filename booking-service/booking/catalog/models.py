"""Local projections of other services' facts: providers and offerings (registry), funded programs (procurement).

Booking-service never reads another service's tables; these rows are kept current by events only.
"""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from booking.models import Base
from service_kit.db import IdMixin, TimestampMixin


class CatalogProvider(TimestampMixin, Base):
    """A provider's standing as the registry last announced it. Provider events carry no version, so the
    CloudEvents ``time`` of the event orders them (``as_of``)."""

    __tablename__ = "catalog_provider"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    accepts_bookings: Mapped[bool]
    as_of: Mapped[datetime]


class CatalogOffering(TimestampMixin, Base):
    """The registry's snapshot of an offering: what availability and prices are computed from."""

    __tablename__ = "catalog_offering"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    provider_id: Mapped[uuid.UUID] = mapped_column(index=True)
    provider_name: Mapped[str] = mapped_column(String(200))
    category_code: Mapped[str] = mapped_column(String(64))
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(32))
    price_fen: Mapped[int]
    duration_minutes: Mapped[int]
    capacity_per_slot: Mapped[int]
    timezone: Mapped[str] = mapped_column(String(64))
    weekly_rules: Mapped[list[Any]]
    exceptions: Mapped[list[Any]]
    target_groups: Mapped[list[Any]]
    auto_confirm: Mapped[bool]
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int]
    # Where it is given (WGS-84) and, door to door, how far or which communities it serves: what places it in a
    # resident's 15-minute circle. Unknown for snapshots older than these fields.
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    service_radius_m: Mapped[int | None]
    service_communities: Mapped[list[Any] | None]
    # The service center it is given at, as a booking answer shows its place (None door to door or online).
    place_name: Mapped[str | None] = mapped_column(String(200))
    place_address: Mapped[str | None] = mapped_column(String(300))


class FundedProgram(IdMixin, TimestampMixin, Base):
    """One offering funded by one government contract: eligible residents pay ``resident_price_fen`` and the
    contract pays the rest, up to ``quota`` bookings (``used`` counts the units drawn)."""

    __tablename__ = "funded_program"
    __table_args__ = (UniqueConstraint("contract_id", "offering_id"),)

    contract_id: Mapped[uuid.UUID] = mapped_column(index=True)
    offering_id: Mapped[uuid.UUID] = mapped_column(index=True)
    provider_id: Mapped[uuid.UUID]
    unit_price_fen: Mapped[int]
    resident_price_fen: Mapped[int]
    quota: Mapped[int]
    used: Mapped[int] = mapped_column(default=0)
    eligibility_tags: Mapped[list[Any]]
    start_date: Mapped[date]
    end_date: Mapped[date]
    active: Mapped[bool]
    contract_status: Mapped[str] = mapped_column(String(32))
    # The ``occurred_at`` of the contract event last applied: an older event never overwrites a newer one.
    as_of: Mapped[datetime]
    # What each eligible person gets of it per period (``per_person_period``: month or week), counted in
    # ``per_person_unit``s (a booking, or an hour of the slot); None: no personal limit, only the pool. Stated by the
    # district's officials; contract events leave it as it is.
    per_person_units: Mapped[int | None]
    per_person_period: Mapped[str | None] = mapped_column(String(8))
    per_person_unit: Mapped[str | None] = mapped_column(String(8))


class ContractProjection(TimestampMixin, Base):
    """The latest event of a contract booking has applied, whatever it funded: its ``as_of`` orders the contract's
    events (an older one never undoes a newer one), and it outlives the funded programs, so a contract terminated
    before its signing reached booking stays terminated when the signing arrives (a tombstone)."""

    __tablename__ = "contract_projection"

    contract_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(32))
    as_of: Mapped[datetime]


class ProviderSanction(TimestampMixin, Base):
    """Whether procurement has sanctioned a provider (``provider.sanctioned`` / ``provider.restored``), kept for
    the record only: a sanction bars the provider from new awards (procurement's business), while its existing
    contracts keep funding their residents until a termination or an amendment ends them."""

    __tablename__ = "provider_sanction"

    provider_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sanctioned: Mapped[bool]
    sanction_id: Mapped[uuid.UUID]
    measure: Mapped[str] = mapped_column(String(64))
    until: Mapped[date | None]
    # The ``occurred_at`` of the last applied sanction event: an older one never overwrites a newer one.
    as_of: Mapped[datetime]
