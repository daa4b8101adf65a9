"""Time is always timezone-aware; the district's local zone is Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_now() -> datetime:
    return datetime.now(SHANGHAI)


def as_aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes for values stored in UTC; PostgreSQL returns aware ones."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
