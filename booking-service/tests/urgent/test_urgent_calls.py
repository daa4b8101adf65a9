"""The urgent safety call: an operator opens one from a resident's card (a fall; someone living alone does not
answer) and it is escalated at once, even at night, to the resident's emergency contact and their community's
duty phone — exactly one SMS each, whatever the retries; it is then marked contacted and resolved, in that order,
with who and when, and the shift's handover shows what is still open."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking.app import SERVICE_DIR, create_app
from booking.config import Settings
from booking.notifications import delivery
from booking.notifications.models import NotificationDelivery
from booking.urgent.models import UrgentCall
from service_kit.notify.sms import FakeSmsSender
from service_kit.testing import Clock, TestKeys, service_settings

pytestmark = pytest.mark.usefixtures("gazetteer")

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # 23:00 in Beijing: the quiet hours, which an urgent call ignores
CONTACT = "+8613900001111"
DUTY = "+861069351234"
RESIDENTS = "/api/v1/residents"

settings = service_settings(Settings, SERVICE_DIR, notification_sweep_seconds=3600, reminder_sweep_seconds=3600)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def sender() -> FakeSmsSender:
    return FakeSmsSender()


@pytest.fixture
def app(settings: Settings, sender: FakeSmsSender, clock: Clock) -> FastAPI:
    return clock.answers(create_app(settings, sender=sender, clock=clock))


def operator(keys: TestKeys, name: str = "话务员 小陈", sub: str = "op-chen") -> dict[str, str]:
    return keys.headers("operator", name=name, sub=sub)


async def register(client: httpx.AsyncClient, keys: TestKeys, **more: Any) -> dict[str, Any]:
    body = {
        "name": "张桂兰",
        "phone": "13812345678",
        "consent": {"version": "2026-11", "channel": "phone"},
        "community_code": "gongchen.shidai_jiahe",
        "address": "时代家和3号楼2单元101",
        "emergency_contact": {"name": "李红", "phone": "139 0000 1111", "relation": "女儿"},
        **more,
    }
    response = await client.post(RESIDENTS, json=body, headers=keys.headers("operator"))
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
async def duty_phone(client: httpx.AsyncClient, test_keys: TestKeys, gazetteer: None) -> None:
    response = await client.put(
        "/api/v1/hotline/community-contacts/gongchen.shidai_jiahe",
        json={"name": "社区值班室", "phone": "010-6935-1234"},
        headers=operator(test_keys),
    )
    assert response.status_code == 200, response.text
    assert response.json()["phone_masked"] != DUTY


async def open_urgent(
    client: httpx.AsyncClient, headers: dict[str, str], resident_id: str, **body: Any
) -> httpx.Response:
    body = {"reason": "fall", "note": "邻居听见摔倒声，敲门无人应", **body}
    return await client.post(f"{RESIDENTS}/{resident_id}/urgent-calls", json=body, headers=headers)


Deliver = Callable[[], Awaitable[int]]


@pytest.fixture
def deliver(sessionmaker: async_sessionmaker[AsyncSession], sender: FakeSmsSender, settings: Settings) -> Deliver:
    """The delivery worker's pass, by hand: the SMS due now go to the fake sender; how many were sent."""

    async def deliver() -> int:
        return await delivery.deliver_due(sessionmaker, sender, settings=settings, now=NOW)

    return deliver


async def handover(client: httpx.AsyncClient, keys: TestKeys) -> dict[str, Any]:
    params = {"since": NOW.isoformat(), "until": (NOW + timedelta(hours=8)).isoformat()}
    response = await client.get("/api/v1/hotline/handover", params=params, headers=operator(keys))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def step(client: httpx.AsyncClient, headers: dict[str, str], call_id: str, to: str, note: str) -> httpx.Response:
    return await client.post(f"/api/v1/hotline/urgent-calls/{call_id}/{to}", json={"note": note}, headers=headers)


@pytest.mark.usefixtures("duty_phone")
async def test_an_urgent_call_tells_the_emergency_contact_and_the_community_at_once(
    client: httpx.AsyncClient,
    test_keys: TestKeys,
    sender: FakeSmsSender,
    deliver: Deliver,
) -> None:
    resident = await register(client, test_keys)
    opened = await open_urgent(client, operator(test_keys), resident["id"])
    assert opened.status_code == 201, opened.text
    call = opened.json()
    assert (call["status"], call["reason"], call["opened_by_name"]) == ("opened", "fall", "话务员 小陈")
    assert [(e["to"], e["name"], e["status"]) for e in call["escalations"]] == [
        ("emergency_contact", "李红（女儿）", "pending"),
        ("community_duty", "时代家和社区 社区值班室", "pending"),
    ]

    assert await deliver() == 2
    assert len(sender.messages) == 2
    assert {m.phone: m.text for m in sender.messages} == {
        CONTACT: "【邻里】紧急：张桂兰可能需要帮助（摔倒），您是其紧急联系人，请马上联系或前往查看，社区也已获知。",
        DUTY: "【邻里】紧急：时代家和社区居民张桂兰可能需要帮助（摔倒），住址时代家和3号楼2单元101。请马上上门查看。",
    }
    assert sender.sent_to("+8613812345678") == []  # the resident's own phone is not the one to ring

    card = await client.get(f"{RESIDENTS}/{resident['id']}/urgent-calls", headers=operator(test_keys))
    assert card.status_code == 200, card.text
    [shown] = card.json()["items"]
    assert [(e["status"], e["phone_masked"]) for e in shown["escalations"]] == [
        ("sent", "139****1111"),
        ("sent", "106****1234"),
    ]
    assert await deliver() == 0  # each message once
    inbox = await client.get("/api/v1/notifications", headers=test_keys.headers("resident", resident_id=resident["id"]))
    assert inbox.status_code == 200, inbox.text
    assert inbox.json()["total"] == 0  # the escalation is no message of the resident's


async def test_with_no_number_to_send_to_the_call_opens_and_says_so(
    client: httpx.AsyncClient,
    test_keys: TestKeys,
    sender: FakeSmsSender,
    deliver: Deliver,
) -> None:
    resident = await register(client, test_keys, emergency_contact=None)
    opened = await open_urgent(client, operator(test_keys), resident["id"], reason="no_answer", note="三天没接电话")
    assert opened.status_code == 201, opened.text
    assert [(e["to"], e["status"], e["reason"]) for e in opened.json()["escalations"]] == [
        ("emergency_contact", "suppressed", "no_phone"),
        ("community_duty", "suppressed", "no_phone"),
    ]
    assert await deliver() == 0


@pytest.mark.usefixtures("duty_phone")
async def test_an_urgent_call_is_contacted_then_resolved_with_who_and_when(
    client: httpx.AsyncClient, test_keys: TestKeys, clock: Clock
) -> None:
    resident = await register(client, test_keys)
    call = (await open_urgent(client, operator(test_keys), resident["id"])).json()
    open_list = await client.get("/api/v1/hotline/urgent-calls", headers=operator(test_keys))
    assert [c["id"] for c in open_list.json()["items"]] == [call["id"]]
    assert open_list.json()["items"][0]["resident"]["name"] == "张桂兰"

    too_soon = await step(client, operator(test_keys), call["id"], "resolved", "已处理")
    assert too_soon.status_code == 409, too_soon.text
    assert (too_soon.json()["code"], too_soon.json()["state"]) == ("invalid_transition", "opened")

    clock.advance(minutes=12)
    wang = operator(test_keys, "话务员 小王", "op-wang")
    contacted = await step(client, wang, call["id"], "contacted", "女儿已到家，老人意识清醒")
    assert contacted.status_code == 200, contacted.text
    body = contacted.json()
    assert (body["status"], body["contacted_by_name"], body["contacted_note"]) == (
        "contacted",
        "话务员 小王",
        "女儿已到家，老人意识清醒",
    )
    assert datetime.fromisoformat(body["contacted_at"]) == NOW + timedelta(minutes=12)
    twice = await step(client, wang, call["id"], "contacted", "再次")
    assert twice.status_code == 409

    no_note = await step(client, wang, call["id"], "resolved", "  ")
    assert no_note.status_code == 422
    assert [e["pointer"] for e in no_note.json()["errors"]] == ["#/note"]
    clock.advance(minutes=30)
    resolved = await step(client, wang, call["id"], "resolved", "120 已送医，女儿陪同")
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["status"], resolved.json()["resolved_by_name"]) == ("resolved", "话务员 小王")
    open_list = await client.get("/api/v1/hotline/urgent-calls", headers=operator(test_keys))
    assert open_list.json()["total"] == 0

    shift = await handover(client, test_keys)
    assert shift["urgent_open"] == []
    assert {o["operator_name"]: o["urgent_opened"] for o in shift["operators"]} == {"话务员 小陈": 1}
    again = await open_urgent(client, operator(test_keys), resident["id"], note="又摔了")
    assert again.status_code == 201, again.text  # resolved: a new one may be opened


@pytest.mark.usefixtures("duty_phone")
async def test_the_handover_lists_the_urgent_calls_still_open(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    resident = await register(client, test_keys)
    call = (await open_urgent(client, operator(test_keys), resident["id"])).json()
    shift = await handover(client, test_keys)
    assert [(c["id"], c["status"]) for c in shift["urgent_open"]] == [(call["id"], "opened")]


@pytest.mark.usefixtures("duty_phone")
async def test_a_double_press_opens_one_call_and_sends_two_messages(
    client: httpx.AsyncClient,
    test_keys: TestKeys,
    sender: FakeSmsSender,
    deliver: Deliver,
) -> None:
    resident = await register(client, test_keys)
    headers = operator(test_keys) | {"Idempotency-Key": "urgent-zgl-1"}
    first, again = [await open_urgent(client, headers, resident["id"]) for _ in range(2)]
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    # Two operators (two keys) at the same moment: one call, the other told which is open.
    racing = await asyncio.gather(
        open_urgent(client, operator(test_keys) | {"Idempotency-Key": "urgent-a"}, resident["id"]),
        open_urgent(client, operator(test_keys, "话务员 小王", "op-wang"), resident["id"]),
    )
    assert [r.status_code for r in racing] == [409, 409]
    assert {r.json()["code"] for r in racing} == {"urgent_call_open"}
    assert racing[0].json()["urgent_call_id"] == first.json()["id"]
    listed = await client.get(f"{RESIDENTS}/{resident['id']}/urgent-calls", headers=operator(test_keys))
    assert listed.json()["total"] == 1
    assert await deliver() == 2


async def test_two_operators_opening_at_once_open_one(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    resident = await register(client, test_keys)
    answers = await asyncio.gather(
        *(open_urgent(client, operator(test_keys, f"话务员 {n}", f"op-{n}"), resident["id"]) for n in range(3))
    )
    assert sorted(a.status_code for a in answers) == [201, 409, 409]
    listed = await client.get(f"{RESIDENTS}/{resident['id']}/urgent-calls", headers=operator(test_keys))
    assert listed.json()["total"] == 1


async def test_every_bad_detail_is_told_at_its_field_and_nothing_opens(
    client: httpx.AsyncClient, test_keys: TestKeys, sender: FakeSmsSender
) -> None:
    resident = await register(client, test_keys)
    bad = await open_urgent(client, operator(test_keys), resident["id"], reason="bored", note="   ")
    assert bad.status_code == 422, bad.text
    assert bad.headers["content-type"] == "application/problem+json"
    assert sorted(e["pointer"] for e in bad.json()["errors"]) == ["#/note", "#/reason"]
    extra = await open_urgent(client, operator(test_keys), resident["id"], urgent=True)
    assert extra.status_code == 422
    assert (await open_urgent(client, operator(test_keys), str(uuid.uuid4()))).status_code == 404
    assert (await open_urgent(client, test_keys.headers("provider"), resident["id"])).status_code == 403
    unknown = await step(client, operator(test_keys), str(uuid.uuid4()), "contacted", "x")
    assert unknown.status_code == 404
    wrong_step = await step(client, operator(test_keys), str(uuid.uuid4()), "forgotten", "x")
    assert wrong_step.status_code == 422
    assert [(e["in"], e["parameter"]) for e in wrong_step.json()["errors"]] == [("path", "step")]
    listed = await client.get(f"{RESIDENTS}/{resident['id']}/urgent-calls", headers=operator(test_keys))
    assert listed.json()["total"] == 0


async def test_a_duty_phone_is_a_real_number_of_a_known_community(
    client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    bad = await client.put(
        "/api/v1/hotline/community-contacts/gongchen.shidai_jiahe",
        json={"name": "", "phone": "12"},
        headers=operator(test_keys),
    )
    assert bad.status_code == 422
    assert [e["pointer"] for e in bad.json()["errors"]] == ["#/name"]
    bad_phone = await client.put(
        "/api/v1/hotline/community-contacts/gongchen.shidai_jiahe",
        json={"name": "值班室", "phone": "12"},
        headers=operator(test_keys),
    )
    assert bad_phone.status_code == 422
    assert [(e["pointer"], e["type"]) for e in bad_phone.json()["errors"]] == [("#/phone", "invalid_phone")]
    nowhere = await client.put(
        "/api/v1/hotline/community-contacts/nowhere.nothing",
        json={"name": "值班室", "phone": "010-69351234"},
        headers=operator(test_keys),
    )
    assert nowhere.status_code == 404
    listed = await client.get("/api/v1/hotline/community-contacts", headers=operator(test_keys))
    assert {c["community_code"]: c["name"] for c in listed.json()} == {
        "gongchen.shidai_jiahe": None,
        "gongchen.jiazhou_shuijun": None,
        "changyang.tianxing": None,
    }


@pytest.mark.usefixtures("duty_phone")
async def test_erasure_waits_for_the_urgent_call_and_takes_what_operators_wrote(
    client: httpx.AsyncClient, test_keys: TestKeys, sessionmaker: async_sessionmaker[AsyncSession], deliver: Deliver
) -> None:
    resident = await register(client, test_keys)
    call = (await open_urgent(client, operator(test_keys), resident["id"], note="张桂兰在卫生间摔倒")).json()
    await step(client, operator(test_keys), call["id"], "contacted", "女儿李红已到")
    await deliver()
    too_soon = await client.delete(f"{RESIDENTS}/{resident['id']}", headers=operator(test_keys))
    assert too_soon.status_code == 409, too_soon.text
    assert too_soon.json()["code"] == "resident_has_open_urgent_call"
    await step(client, operator(test_keys), call["id"], "resolved", "李红陪同就医")
    erased = await client.delete(f"{RESIDENTS}/{resident['id']}", headers=operator(test_keys))
    assert erased.status_code == 204, erased.text
    async with sessionmaker() as session:
        kept = await session.get(UrgentCall, uuid.UUID(call["id"]))
        assert kept is not None
        assert (kept.note, kept.contact_name, kept.contacted_note, kept.resolved_note, kept.status) == (
            "",
            None,
            None,
            None,
            "resolved",
        )
        left = await session.scalars(
            select(NotificationDelivery).where(NotificationDelivery.resident_id == uuid.UUID(resident["id"]))
        )
        assert list(left) == []  # the SMS texts (they name her) and the numbers they went to
