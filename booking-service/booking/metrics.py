"""What officials watch of bookings, read from the database when /metrics is scraped (service_kit.metrics):
bookings by channel and current status. Every status and channel is reported, 0 included, so a dashboard's
rate and a rule's ``absent`` see a series from the first scrape; no booking or resident id in a label."""

from __future__ import annotations

from typing import get_args

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession

from booking.bookings import repository
from booking.bookings.models import BookingStatus
from service_kit.events.contracts import BookingChannel

CHANNELS: tuple[str, ...] = get_args(BookingChannel)

BOOKINGS = Gauge(
    "linli_bookings",
    "Bookings by the channel they came by and their current status (the sum over statuses grows by one a booking)",
    ["channel", "status"],
    multiprocess_mode="livemostrecent",
)


async def bookings_by_channel_and_status(session: AsyncSession) -> None:
    counts = {(channel, status.value): 0 for channel in CHANNELS for status in BookingStatus}
    for channel, status, count in await repository.counts_by_channel_and_status(session):
        key = (channel if channel in CHANNELS else "other", BookingStatus(status).value)
        counts[key] = counts.get(key, 0) + count
    for (channel_label, status_label), count in counts.items():
        BOOKINGS.labels(channel_label, status_label).set(count)
