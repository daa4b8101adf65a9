"""Tables every service has for its events: outbox, inbox, dead letters; created by each service's migrations."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Uuid,
)

from service_kit.db import JSONDoc, UTCDateTime, new_metadata

kit_metadata = new_metadata()

# BIGINT autoincrement on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
_Seq = BigInteger().with_variant(Integer(), "sqlite")

outbox_event = Table(
    "outbox_event",
    kit_metadata,
    Column("seq", _Seq, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("type", String(120), nullable=False),
    Column("subject", String(120)),
    Column("data", JSONDoc, nullable=False),
    Column("traceparent", String(64)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("published_at", UTCDateTime(), index=True),
    Column("lease_owner", String(36)),
    Column("lease_until", UTCDateTime()),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
)

inbox_event = Table(
    "inbox_event",
    kit_metadata,
    Column("consumer", String(80), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("type", String(120), nullable=False),
    Column("processed_at", UTCDateTime(), nullable=False),
)

dead_letter = Table(
    "dead_letter",
    kit_metadata,
    Column("id", String(36), primary_key=True),
    Column("consumer", String(80), nullable=False, index=True),
    Column("event_id", String(120), nullable=False),
    Column("type", String(120), nullable=False),
    Column("nats_subject", String(200), nullable=False),
    Column("headers", JSONDoc, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("error", Text, nullable=False),
    Column("deliveries", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # dead | replayed
    Column("created_at", UTCDateTime(), nullable=False),
    Column("replayed_at", UTCDateTime()),
)

idempotency_record = Table(
    "idempotency_record",
    kit_metadata,
    Column("scope", String(120), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("method", String(8), nullable=False),
    Column("path", String(500), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # in_progress | done
    Column("response_status", Integer),
    Column("response_headers", JSONDoc),
    # Sealed (service_kit.protection): a stored response may hold personal data.
    Column("response_body", LargeBinary),
    Column("created_at", UTCDateTime(), nullable=False, index=True),
    # The resident the stored response is about, whoever's scope it is under (an operator's, a helper's):
    # erasing the resident deletes it (service_kit.idempotency.forget_resident).
    Column("resident_id", Uuid(), index=True),
)
