"""Complaints past their SLA, read from the database when /metrics is scraped (service_kit.metrics): by which
deadline was missed (acknowledgement, resolution) and severity. Counts only: no complaint, resident or provider."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.complaints import repository
from feedback.complaints.models import Severity
from service_kit.timeutil import utcnow

PAST_SLA = Gauge(
    "linli_complaints_past_sla",
    "Open complaints past a deadline of their SLA, by deadline (ack, resolve) and severity",
    ["deadline", "severity"],
    multiprocess_mode="livemostrecent",
)


async def complaints_past_sla(session: AsyncSession, *, now: datetime | None = None) -> None:
    """The probe /metrics runs (``now``: the scrape's time unless a test gives another)."""
    now = now or utcnow()
    for deadline, breached in (("ack", repository.ack_breached(now)), ("resolve", repository.resolve_breached(now))):
        counts = {severity.value: 0 for severity in Severity}
        for severity, count in await repository.counts_by_severity(session, breached):
            counts[Severity(severity).value] = count
        for severity_label, count in counts.items():
            PAST_SLA.labels(deadline, severity_label).set(count)
