"""Messages that arrive, through the gateway: a resident books in the app, the provider's system confirms with its
API key, and she finds one Chinese message naming the service and the time in her inbox, and one SMS went out
through the dev stack's fake sender, even after the confirmed event is delivered again; reading it drops the
unread count; nobody reads another's messages. (The quiet hours are tested on booking's clock, in its suite.)"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import nats
import pytest

from service_kit.testing import eventually_blocking

from .conftest import (
    bearer,
    free_slots,
    login,
    new_phone,
    provider_with_offering,
    registered_by_operator,
    scheduling_system,
    sign_in_by_code,
)

pytestmark = pytest.mark.stack

INBOX = "/api/v1/notifications"
SERVICE_NAME = "通知测试午餐（仅测试用）"


def provider_with_offering_and_key(gateway: httpx.Client) -> tuple[str, dict[str, str]]:
    """A verified provider's published lunch and its scheduling system's API key."""
    provider = provider_with_offering(gateway, "通知测试助餐服务社", SERVICE_NAME, capacity_per_slot=20)
    return str(provider["offering_id"]), scheduling_system(gateway, provider["admin"])


def inbox(gateway: httpx.Client, headers: dict[str, str]) -> dict[str, Any]:
    response = gateway.get(INBOX, headers=headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def sms_to(gateway: httpx.Client, phone: str) -> list[dict[str, Any]]:
    response = gateway.get(f"{INBOX}/sms-outbox", headers=login(gateway, "admin"), params={"phone": phone})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def redeliver_confirmed(nats_url: str, booking_id: str) -> None:
    """Publish the booking's confirmed event again with its own event id (a new JetStream message id, so the
    stream keeps it), as a redelivery would bring it, and wait until booking's notifier has acknowledged it."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        original = await js.get_last_msg("LINLI", "linli.booking.confirmed.v1")
        assert original.headers is not None
        assert original.headers["ce-subject"] == booking_id
        headers = {**original.headers, "Nats-Msg-Id": str(uuid.uuid4())}
        ack = await js.publish("linli.booking.confirmed.v1", original.data or b"", headers=headers)
        for _ in range(600):
            info = await js.consumer_info("LINLI", "booking-notifications")
            if info.ack_floor is not None and (info.ack_floor.stream_seq or 0) >= ack.seq:
                return
            await asyncio.sleep(0.1)
        raise AssertionError("booking's notifier did not take the redelivered event")
    finally:
        await nc.close()


def test_a_confirmed_booking_is_one_message_in_the_inbox_and_one_sms(gateway: httpx.Client, stack: Any) -> None:
    operator = login(gateway, "operator")
    offering_id, system = provider_with_offering_and_key(gateway)
    phone = new_phone()
    # 王秀英 was registered by the call center (as the demo data does); she signs in to the app with her phone.
    registered_by_operator(
        gateway,
        operator,
        name="王秀英",
        phone=phone,
        community_code="gongchen.shidai_jiahe",
        eligibility_tags=["age_80_plus", "living_alone"],
    )
    wang = bearer(sign_in_by_code(gateway, phone))
    (slot,) = free_slots(gateway, offering_id, wang)
    booked = gateway.post(
        "/api/v1/bookings", headers=wang, json={"offering_id": offering_id, "slot_start": slot["start"]}
    )
    assert booked.status_code == 201, booked.text
    booking_id = booked.json()["id"]

    # The provider's scheduling system confirms with its API key.
    confirmed = gateway.post(f"/api/v1/bookings/{booking_id}/confirm", headers=system, json={})
    assert confirmed.status_code == 200, confirmed.text

    page = eventually_blocking(lambda: (p := inbox(gateway, wang))["items"] and p)
    (message,) = page["items"]
    start = datetime.fromisoformat(slot["start"]).astimezone(ZoneInfo("Asia/Shanghai"))
    when = f"{start.month}月{start.day}日 {start:%H:%M}"
    assert message["title"] == "预约已确认"
    assert message["body"] == f"预约已确认：{SERVICE_NAME}，{when}。请按时等候。"
    assert message["subject_id"] == booking_id
    assert page["unread_count"] == 1

    sent = eventually_blocking(lambda: sms_to(gateway, phone))
    assert [(m["kind"], m["text"]) for m in sent] == [("booking_confirmed", "【邻里】" + message["body"])]
    assert sent[0]["phone"] == f"+86{phone[:3]}****{phone[-4:]}"  # masked in the admin's view
    delivered = inbox(gateway, wang)["items"][0]["deliveries"]
    assert {d["channel"]: d["status"] for d in delivered} == {"inbox": "sent", "sms": "sent"}

    # The same event once more: nothing is written or sent twice.
    asyncio.run(redeliver_confirmed(stack.nats_url, booking_id))
    assert len(inbox(gateway, wang)["items"]) == 1
    assert len(sms_to(gateway, phone)) == 1

    # Another resident cannot read it (as if it did not exist), and sees only her own (none).
    other = bearer(sign_in_by_code(gateway, new_phone()))
    theirs = gateway.post(f"{INBOX}/{message['id']}/read", headers=other)
    assert (theirs.status_code, theirs.json()["code"]) == (404, "notification_not_found")
    assert inbox(gateway, other)["items"] == []
    assert inbox(gateway, wang)["unread_count"] == 1

    read = gateway.post(f"{INBOX}/{message['id']}/read", headers=wang)
    assert read.status_code == 200, read.text
    assert inbox(gateway, wang)["unread_count"] == 0
    # An operator has no inbox; the admins' view of the fake sender is theirs only.
    assert gateway.get(INBOX, headers=operator).status_code == 403
    assert gateway.get(f"{INBOX}/sms-outbox", headers=wang).status_code == 403
