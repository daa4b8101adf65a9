"""Events become messages: which events, for whom, in which words; once per event however often it comes."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import nats
from sqlalchemy import select

from booking.notifications.models import DeliveryStatus, Notification
from service_kit.events.contracts import (
    BookingCancelled,
    BookingExpired,
    BookingProviderMissed,
    BookingRejected,
    BookingRescheduled,
    ComplaintOpened,
    ComplaintResolved,
    NeedStatusChanged,
    ResidentHelperGranted,
    ResidentHelperRevoked,
)
from service_kit.events.envelope import Envelope
from service_kit.events.tables import outbox_event
from service_kit.testing import eventually

BOOKINGS = "/api/v1/bookings"


async def test_a_confirmed_booking_is_one_message_and_one_sms_however_often_its_event_comes(notes: Any) -> None:
    world = notes.world
    offering = await world.offering(name_zh="助浴服务")
    resident = await world.resident(phone="13900001111")
    slot = world.at(world.tomorrow(), 9)
    booked = (await world.book(offering, resident, slot)).json()
    confirm = await world.client.post(f"{BOOKINGS}/{booked['id']}/confirm", headers=world.provider_headers(offering))
    assert confirm.status_code == 200, confirm.text

    # Booking consumes its own event through JetStream like any consumer.
    page = await eventually(lambda: _with_items(notes, resident))
    (message,) = page["items"]
    assert message["title"] == "预约已确认"
    assert message["body"] == f"预约已确认：助浴服务，{slot.month}月{slot.day}日 09:00。请按时等候。"
    assert message["subject_id"] == booked["id"]
    assert {d["channel"]: d["status"] for d in message["deliveries"]} == {"inbox": "sent", "sms": "pending"}
    assert page["unread_count"] == 1

    assert await notes.deliver() == 1
    (sms,) = notes.sender.messages
    assert (sms.phone, sms.kind, sms.params) == ("+8613900001111", "booking_confirmed", ("助浴服务", _local(slot)))
    assert sms.text == "【邻里】" + message["body"]

    # The same event again (a redelivery after a lost ack): JetStream carries it, the consumer's inbox absorbs it.
    async with world.sessionmaker() as session:
        event_id = await session.scalar(
            select(outbox_event.c.event_id).where(
                outbox_event.c.subject == booked["id"], outbox_event.c.type == "linli.booking.confirmed.v1"
            )
        )
    runner = next(r for r in notes.app.state.runtime.runners if r.durable == "booking-notifications")
    duplicates = runner.duplicates
    await _republish(world.nats_url, notes, event_id)
    await eventually(lambda: runner.duplicates > duplicates)
    assert len((await notes.inbox(resident))["items"]) == 1
    assert await notes.deliver() == 0
    assert len(notes.sender.messages) == 1
    assert len(await notes.sms(resident)) == 1


async def _with_items(notes: Any, resident: dict[str, Any]) -> dict[str, Any] | None:
    page: dict[str, Any] = await notes.inbox(resident)
    return page if page["items"] else None


def _local(slot: Any) -> str:
    return f"{slot.month}月{slot.day}日 {slot:%H:%M}"


async def _republish(nats_url: str, notes: Any, event_id: str) -> None:
    """Publish the stored event again under its own CloudEvents id (a new JetStream message id, so the stream's
    duplicate window does not drop it before the consumer sees it)."""
    async with notes.sessionmaker() as session:
        row = (
            await session.execute(
                select(outbox_event.c.type, outbox_event.c.data, outbox_event.c.subject).where(
                    outbox_event.c.event_id == event_id
                )
            )
        ).one()
    envelope = Envelope(id=event_id, type=row.type, source="booking", time=notes.clock(), data=row.data)
    headers = {**envelope.headers(), "Nats-Msg-Id": str(uuid.uuid4())}
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().publish(row.type, envelope.payload(), headers=headers)
    finally:
        await nc.close()


async def test_each_booking_change_speaks_of_its_service_and_time(notes: Any) -> None:
    world = notes.world
    offering = await world.offering(name_zh="上门理发")
    resident = await world.resident()
    slot = world.at(world.tomorrow(), 10)
    earlier = world.at(world.tomorrow(), 9)
    for event_class, extra in (
        (BookingRejected, {"status": "rejected"}),
        (BookingExpired, {"status": "expired", "actor": "system:expiry"}),
        (BookingCancelled, {"status": "cancelled", "actor": "provider_admin:x"}),
        (BookingRescheduled, {"previous_slot_start": earlier}),
        (BookingProviderMissed, {"status": "confirmed", "actor": "system:provider_missed"}),
    ):
        assert await notes.apply(notes.confirmed(offering, resident, slot, event_class=event_class, **extra))
        notes.clock.advance(minutes=1)  # newest first
    page = await notes.inbox(resident)
    when = _local(slot)
    assert [m["body"] for m in reversed(page["items"])] == [
        f"预约没有成功：上门理发，{when}。服务方这次接待不了，可以另约时间。",
        f"预约已失效：上门理发，{when}。服务方没有及时确认，可以另约时间。",
        f"预约已取消：上门理发，{when}。有疑问请打社区服务热线。",
        f"预约改了时间：上门理发，改到{when}。",
        f"服务人员没有按时来：上门理发，{when}。社区工作人员会给您打电话。",
    ]
    assert page["unread_count"] == 5


async def test_what_the_resident_did_herself_she_is_not_told(notes: Any) -> None:
    world = notes.world
    offering = await world.offering()
    resident = await world.resident()
    slot = world.at(world.tomorrow(), 10)
    own = f"resident:{uuid.uuid4()}"
    assert await notes.apply(notes.confirmed(offering, resident, slot, event_class=BookingCancelled, actor=own))
    assert await notes.apply(notes.confirmed(offering, resident, slot, event_class=BookingRescheduled, actor=own))
    assert (await notes.inbox(resident))["items"] == []
    assert await notes.sms(resident) == []


async def test_a_redelivered_event_writes_nothing_twice(notes: Any) -> None:
    world = notes.world
    offering = await world.offering()
    resident = await world.resident()
    event = notes.confirmed(offering, resident, world.at(world.tomorrow(), 10))
    event_id = str(uuid.uuid4())
    assert await notes.apply(event, event_id=event_id) is True
    assert await notes.apply(event, event_id=event_id) is False
    assert len((await notes.inbox(resident))["items"]) == 1
    assert len(await notes.sms(resident)) == 1


async def test_complaints_and_needs_tell_their_resident(notes: Any) -> None:
    world = notes.world
    resident = await world.resident()
    resident_id = uuid.UUID(resident["id"])
    complaint_id, need_id = uuid.uuid4(), uuid.uuid4()
    now = notes.clock()
    common = {
        "complaint_id": complaint_id,
        "reference": "47112086",
        "category": "punctuality",
        "severity": "normal",
        "occurred_at": now,
    }
    # Through JetStream, as feedback-service publishes them.
    await world.publish(ComplaintOpened(**common, status="submitted", resident_id=resident_id), source="feedback")
    await world.publish(ComplaintResolved(**common, status="resolved", resident_id=resident_id), source="feedback")
    await world.publish(ComplaintOpened(**common, status="submitted"), source="feedback")  # anonymous: nobody
    await world.publish(
        NeedStatusChanged(need_id=need_id, resident_id=resident_id, status="in_service", occurred_at=now),
        source="feedback",
    )

    async def three() -> dict[str, Any] | None:
        page: dict[str, Any] = await notes.inbox(resident)
        return page if len(page["items"]) >= 3 else None

    page = await eventually(three)
    bodies = sorted(m["body"] for m in page["items"])
    assert bodies == sorted(
        [
            # The number the operator read out to her, grouped as she wrote it down.
            "您的投诉我们收到了，投诉编号 4711 2086，请记下。会尽快处理，结果会告诉您。",
            "您的投诉（编号 4711 2086）处理好了，请在邻里里看答复。",
            "您提的需求有进展：家附近已经可以预约这项服务了。",
        ]
    )
    assert {m["subject_id"] for m in page["items"]} == {str(complaint_id), str(need_id)}
    texts = [m.text for m in await notes.sms(resident)]
    assert "【邻里】您的投诉（编号 4711 2086）处理好了，请在邻里里看答复。" in texts


async def test_a_helper_gets_a_copy_while_granted_and_while_the_parent_wants_it(notes: Any) -> None:
    world = notes.world
    offering = await world.offering(name_zh="老年餐桌")
    parent = await world.resident(phone="13900001111")
    helper = await world.resident(phone="13900002222")
    slot = world.at(world.tomorrow(), 10)
    grant = {
        "grant_id": uuid.uuid4(),
        "resident_id": uuid.UUID(parent["id"]),
        "helper_resident_id": uuid.UUID(helper["id"]),
    }
    now = notes.clock()
    assert await notes.apply(ResidentHelperGranted(**grant, occurred_at=now))
    assert await notes.apply(notes.confirmed(offering, parent, slot))
    (copy,) = (await notes.inbox(helper))["items"]
    assert copy["body"].startswith("（王秀英）预约已确认：老年餐桌")
    assert copy["about_resident_id"] == parent["id"]
    (sms,) = await notes.sms(helper)
    assert sms.status == DeliveryStatus.pending
    # Her phone says whose message it is: the parent's own text would read as her own booking.
    assert sms.text == "【邻里】您的家人王秀英有一条消息：预约已确认。请在邻里里查看。"
    assert (sms.kind, sms.params) == ("helper_copy", ["王秀英", "预约已确认"])

    off = await world.client.put(
        "/api/v1/notifications/preferences", json={"copy_helpers": False}, headers=world.resident_headers(parent)
    )
    assert off.status_code == 200, off.text
    assert await notes.apply(notes.confirmed(offering, parent, slot + timedelta(hours=1)))
    assert len((await notes.inbox(helper))["items"]) == 1
    on = await world.client.put(
        "/api/v1/notifications/preferences", json={"copy_helpers": True}, headers=world.resident_headers(parent)
    )
    assert on.status_code == 200

    # A revocation older than the grant (out of order) changes nothing; the newer one ends the copies.
    assert await notes.apply(ResidentHelperRevoked(**grant, occurred_at=now - timedelta(minutes=1)))
    assert await notes.apply(notes.confirmed(offering, parent, slot + timedelta(hours=2)))
    assert len((await notes.inbox(helper))["items"]) == 2
    assert await notes.apply(ResidentHelperRevoked(**grant, occurred_at=now + timedelta(minutes=1)))
    assert await notes.apply(notes.confirmed(offering, parent, slot + timedelta(hours=3)))
    assert len((await notes.inbox(helper))["items"]) == 2
    assert len((await notes.inbox(parent))["items"]) == 4


async def test_no_message_body_carries_an_id_number(notes: Any) -> None:
    world = notes.world
    offering = await world.offering()
    response = await world.client.post(
        "/api/v1/residents",
        json={
            "name": "李桂兰",
            "phone": "13900003333",
            "id_card_number": "11010519491231002X",
            "consent": {"version": "2026-11", "channel": "phone"},
        },
        headers=world.keys.headers("operator"),
    )
    assert response.status_code == 201, response.text
    resident = response.json()
    assert await notes.apply(notes.confirmed(offering, resident, world.at(world.tomorrow(), 10)))
    async with notes.sessionmaker() as session:
        bodies = list(await session.scalars(select(Notification.body)))
    assert bodies
    assert not any("110105" in body or "1002X" in body for body in bodies)
    assert not any("110105" in d.text for d in await notes.sms(resident))


async def test_nothing_for_a_resident_this_service_does_not_know(notes: Any) -> None:
    offering = await notes.world.offering()
    stranger = {"id": str(uuid.uuid4())}
    assert await notes.apply(notes.confirmed(offering, stranger, notes.world.at(notes.world.tomorrow(), 10)))
    assert await notes.sms() == []


async def test_two_replicas_applying_the_same_event_at_once_write_one_message(notes: Any) -> None:
    world = notes.world
    offering = await world.offering()
    resident = await world.resident()
    event = notes.confirmed(offering, resident, world.at(world.tomorrow(), 10))
    event_id = str(uuid.uuid4())
    applied = await asyncio.gather(*(notes.apply(event, event_id=event_id) for _ in range(3)), return_exceptions=True)
    assert sorted(a is True for a in applied) == [False, False, True]
    assert len((await notes.inbox(resident))["items"]) == 1
    assert len(await notes.sms(resident)) == 1
