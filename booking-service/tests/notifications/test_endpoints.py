"""The resident's inbox: own messages only, newest first, paged, with the unread count; reading; preferences."""

import uuid
from typing import Any

from service_kit.notify.sms import Sms

INBOX = "/api/v1/notifications"


async def _messages(notes: Any, resident: dict[str, Any], count: int) -> None:
    offering = await notes.world.offering()
    for hour in range(count):
        assert await notes.apply(notes.confirmed(offering, resident, notes.world.at(notes.world.tomorrow(), 9 + hour)))
        notes.clock.advance(minutes=1)


async def test_the_inbox_is_the_residents_own_newest_first_and_paged(notes: Any) -> None:
    world = notes.world
    resident, neighbour = await world.resident(), await world.resident()
    await _messages(notes, resident, 3)
    await _messages(notes, neighbour, 1)
    first = await notes.inbox(resident, limit=2)
    assert (first["total"], first["limit"], first["offset"], first["unread_count"]) == (3, 2, 0, 3)
    assert ["11:00" in m["body"] for m in first["items"]] == [True, False]
    assert ["10:00" in m["body"] for m in first["items"]] == [False, True]
    rest = await notes.inbox(resident, limit=2, offset=2)
    assert ["09:00" in m["body"] for m in rest["items"]] == [True]
    assert rest["unread_count"] == 3
    bad = await world.client.get(INBOX, params={"limit": 0}, headers=world.resident_headers(resident))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "limit"


async def test_reading_one_and_all_drops_the_unread_count(notes: Any) -> None:
    world = notes.world
    resident, neighbour = await world.resident(), await world.resident()
    await _messages(notes, resident, 3)
    await _messages(notes, neighbour, 1)
    mine = world.resident_headers(resident)
    newest = (await notes.inbox(resident))["items"][0]
    read = await world.client.post(f"{INBOX}/{newest['id']}/read", headers=mine)
    assert read.status_code == 200, read.text
    assert read.json()["read_at"] is not None
    again = await world.client.post(f"{INBOX}/{newest['id']}/read", headers=mine)
    assert again.json()["read_at"] == read.json()["read_at"]  # read once, when first read
    assert (await notes.inbox(resident))["unread_count"] == 2

    # Another resident's message is as one that does not exist.
    theirs = (await notes.inbox(neighbour))["items"][0]
    other = await world.client.post(f"{INBOX}/{theirs['id']}/read", headers=mine)
    assert (other.status_code, other.json()["code"]) == (404, "notification_not_found")
    missing = await world.client.post(f"{INBOX}/{uuid.uuid4()}/read", headers=mine)
    assert missing.status_code == 404
    assert (await notes.inbox(neighbour))["unread_count"] == 1

    everything = await world.client.post(f"{INBOX}/read-all", headers=mine)
    assert everything.json() == {"marked": 2, "unread_count": 0}
    assert (await notes.inbox(resident))["unread_count"] == 0
    assert (await notes.inbox(neighbour))["unread_count"] == 1


async def test_only_a_resident_has_an_inbox(notes: Any) -> None:
    world = notes.world
    operator = await world.client.get(INBOX, headers=world.keys.headers("operator"))
    assert (operator.status_code, operator.json()["code"]) == (403, "role_forbidden")
    nobody = await world.client.get(INBOX)
    assert nobody.status_code == 401


async def test_preferences_refuse_a_kind_that_does_not_exist_and_change_nothing(notes: Any) -> None:
    world = notes.world
    resident = await world.resident()
    headers = world.resident_headers(resident)
    shown = await world.client.get(f"{INBOX}/preferences", headers=headers)
    assert shown.status_code == 200
    assert shown.json()["copy_helpers"] is True
    assert all(shown.json()["sms"].values())
    assert "sign_in_code" not in shown.json()["sms"]  # a code always goes
    bad = await world.client.put(
        f"{INBOX}/preferences", json={"sms": {"booking_confirmed": False, "lottery": False}}, headers=headers
    )
    assert bad.status_code == 422
    assert (bad.json()["code"], bad.json()["errors"][0]["field"]) == ("unknown_message_kind", "sms.lottery")
    extra = await world.client.put(f"{INBOX}/preferences", json={"sms_all": False}, headers=headers)
    assert (extra.status_code, extra.json()["errors"][0]["field"]) == (422, "sms_all")
    assert (await world.client.get(f"{INBOX}/preferences", headers=headers)).json() == shown.json()


async def test_admins_see_what_the_fake_sender_sent_with_phones_masked(notes: Any) -> None:
    world = notes.world
    await notes.sender.send(Sms(phone="+8613900001111", kind="booking_confirmed", params=(), text="【邻里】预约已确认"))
    admin = world.keys.headers("admin")
    page = await world.client.get(f"{INBOX}/sms-outbox", params={"phone": "13900001111"}, headers=admin)
    assert page.status_code == 200, page.text
    (message,) = page.json()["items"]
    assert (message["phone"], message["kind"]) == ("+86139****1111", "booking_confirmed")
    assert message["text"] == "【邻里】预约已确认"
    resident = await world.client.get(f"{INBOX}/sms-outbox", headers=world.keys.headers("resident"))
    assert resident.status_code == 403
