import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from registry.models import Base
from registry.webhooks.signing import WEBHOOK_SECRET
from service_kit.db import IdMixin, TimestampMixin
from service_kit.protection import SealedColumns
from service_kit.timeutil import utcnow


class DeliveryStatus(StrEnum):
    pending = "pending"  # due at ``next_attempt_at`` (a first attempt, a retry or a manual redelivery)
    delivered = "delivered"  # the receiver answered 2xx
    failed = "failed"  # the last scheduled attempt failed, the receiver answered 410, or a redelivery failed


class AttemptTrigger(StrEnum):
    scheduled = "scheduled"
    manual = "manual"


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class WebhookEndpoint(IdMixin, TimestampMixin, Base):
    """A URL of a provider's system that receives the events it subscribed to, signed with its secret."""

    __tablename__ = "webhook_endpoint"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(200))
    # Short event names (``booking.confirmed``) or a whole family (``booking.*``).
    event_types: Mapped[list[Any]] = mapped_column(default=list)
    # ``whsec_…`` sealed with the service's data key (AES-GCM): it must be recoverable to sign.
    secret_sealed: Mapped[str] = mapped_column(String(200))
    # After a rotation the old secret also signs until this time, so a receiver can switch without losses.
    previous_secret_sealed: Mapped[str | None] = mapped_column(String(200))
    previous_secret_until: Mapped[datetime | None]
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    disabled_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(200))


class WebhookDelivery(IdMixin, TimestampMixin, Base):
    """One event for one endpoint. Its id is the ``webhook-id`` header: the same on every attempt."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_endpoint_created", "endpoint_id", "created_at"),
    )

    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoint.id", ondelete="CASCADE"))
    organization_id: Mapped[uuid.UUID] = mapped_column(index=True)
    # The Linli event (CloudEvents id) this delivery carries.
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus))
    trigger: Mapped[AttemptTrigger] = mapped_column(_enum(AttemptTrigger), default=AttemptTrigger.scheduled)
    attempt_count: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    lease_owner: Mapped[str | None] = mapped_column(String(36))
    lease_until: Mapped[datetime | None]


class WebhookAttempt(IdMixin, Base):
    """One HTTP request of a delivery and what came back: the provider's view of why it did or did not arrive."""

    __tablename__ = "webhook_attempt"
    __table_args__ = (UniqueConstraint("delivery_id", "number"),)

    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_delivery.id", ondelete="CASCADE"))
    number: Mapped[int]
    trigger: Mapped[AttemptTrigger] = mapped_column(_enum(AttemptTrigger))
    attempted_at: Mapped[datetime]
    duration_ms: Mapped[int]
    status_code: Mapped[int | None]
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(500))


# The sealed secrets, sealed again with the current data key after a rotation (registry.app's background job).
SEALED = [
    SealedColumns(WebhookEndpoint, {"secret_sealed": WEBHOOK_SECRET, "previous_secret_sealed": WEBHOOK_SECRET}),
]
