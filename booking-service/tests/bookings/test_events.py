"""Booking events leave through the outbox relay to JetStream as CloudEvents other services consume."""

import asyncio
import json
from typing import Any

import nats

from service_kit.events.contracts import BookingCancelled, BookingCreated
from service_kit.events.envelope import Envelope


async def test_booking_events_reach_jetstream_as_cloudevents(world: Any) -> None:
    offering = await world.offering()
    resident = await world.resident()
    booking = (await world.book(offering, resident, world.at(world.tomorrow(), 9))).json()
    cancel = await world.client.post(
        f"/api/v1/bookings/{booking['id']}/cancel",
        json={"reason": "改天再约"},
        headers=world.resident_headers(resident),
    )
    assert cancel.status_code == 200

    nc = await nats.connect(world.nats_url)
    try:
        subscription = await nc.jetstream().pull_subscribe("linli.booking.>", durable=None, stream="LINLI")
        received: list[Envelope] = []
        deadline = asyncio.get_running_loop().time() + 15
        while len(received) < 2 and asyncio.get_running_loop().time() < deadline:
            try:
                messages = await subscription.fetch(10, timeout=1)
            except nats.errors.TimeoutError:
                continue
            for message in messages:
                received.append(Envelope.from_message(message.headers, message.data))
                await message.ack()
    finally:
        await nc.close()

    assert [e.type for e in received] == [BookingCreated.type, BookingCancelled.type]
    assert all(e.source == "booking" and e.subject == booking["id"] for e in received)
    cancelled = received[1].parse()
    assert isinstance(cancelled, BookingCancelled)
    assert cancelled.reason == "改天再约"
    assert str(cancelled.resident_id) == resident["id"]
    assert resident["phone"] not in json.dumps(received[1].data)
