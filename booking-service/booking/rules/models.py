import uuid

from sqlalchemy.orm import Mapped, mapped_column

from booking.models import Base
from service_kit.db import TimestampMixin


class BookingRule(TimestampMixin, Base):
    """An offering's own booking rules; a None field follows the service-wide default (settings)."""

    __tablename__ = "booking_rule"

    offering_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    min_lead_minutes: Mapped[int | None]
    horizon_days: Mapped[int | None]
    cancellation_window_minutes: Mapped[int | None]
    confirm_within_minutes: Mapped[int | None]
