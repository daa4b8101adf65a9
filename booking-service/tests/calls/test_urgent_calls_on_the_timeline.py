"""The card's call timeline tells the whole story: an urgent safety call is one entry among the calls, in time
order, with its reason, who opened it, its state and escalation as they are now; a double press or two operators
at once leave one entry. Erasure keeps every call and callback (the shift's counts) without what operators wrote
about the person."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking.app import SERVICE_DIR, create_app
from booking.calls.models import Callback, CallRecord
from booking.config import Settings
from service_kit.notify.sms import FakeSmsSender
from service_kit.testing import Clock, TestKeys, service_settings

pytestmark = pytest.mark.usefixtures("gazetteer")

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
RESIDENTS = "/api/v1/residents"

settings = service_settings(Settings, SERVICE_DIR, notification_sweep_seconds=3600, reminder_sweep_seconds=3600)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> FastAPI:
    return clock.answers(create_app(settings, sender=FakeSmsSender(), clock=clock))


def operator(keys: TestKeys, name: str = "话务员 小陈", sub: str = "op-chen") -> dict[str, str]:
    return keys.headers("operator", name=name, sub=sub)


@pytest.fixture
async def resident(client: httpx.AsyncClient, test_keys: TestKeys) -> dict[str, Any]:
    body = {
        "name": "张桂兰",
        "phone": "13812345678",
        "consent": {"version": "2026-11", "channel": "phone"},
        "community_code": "gongchen.shidai_jiahe",
        "address": "时代家和3号楼2单元101",
        "emergency_contact": {"name": "李红", "phone": "139 0000 1111", "relation": "女儿"},
    }
    response = await client.post(RESIDENTS, json=body, headers=test_keys.headers("operator"))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def timeline(client: httpx.AsyncClient, keys: TestKeys, resident_id: str) -> dict[str, Any]:
    response = await client.get(f"{RESIDENTS}/{resident_id}/calls", headers=operator(keys))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_an_urgent_call_is_one_entry_of_the_timeline_in_time_order_with_its_state(
    client: httpx.AsyncClient, test_keys: TestKeys, resident: dict[str, Any], clock: Clock
) -> None:
    rid = resident["id"]
    before = await client.post(
        f"{RESIDENTS}/{rid}/calls", json={"reason": "book_service", "note": "约助餐"}, headers=operator(test_keys)
    )
    assert before.status_code == 201, before.text
    clock.advance(minutes=20)
    opened = await client.post(
        f"{RESIDENTS}/{rid}/urgent-calls",
        json={"reason": "no_answer", "note": "邻居说两天没见到她"},
        headers=operator(test_keys, "话务员 小王", "op-wang"),
    )
    assert opened.status_code == 201, opened.text
    clock.advance(minutes=10)
    stepped = await client.post(
        f"/api/v1/hotline/urgent-calls/{opened.json()['id']}/contacted",
        json={"note": "女儿已上门"},
        headers=operator(test_keys),
    )
    assert stepped.status_code == 200, stepped.text
    clock.advance(minutes=5)
    after = await client.post(
        f"{RESIDENTS}/{rid}/calls", json={"reason": "callback", "note": "回访确认平安"}, headers=operator(test_keys)
    )
    assert after.status_code == 201, after.text

    shown = await timeline(client, test_keys, rid)
    assert shown["total"] == 3
    assert [c["reason"] for c in shown["items"]] == ["callback", "safety", "book_service"]
    urgent_entry = shown["items"][1]
    assert urgent_entry["operator_name"] == "话务员 小王"
    assert urgent_entry["outcome"] == {"kind": "urgent_call", "id": opened.json()["id"]}
    told = urgent_entry["urgent"]
    assert (told["reason"], told["note"], told["status"], told["opened_by_name"]) == (
        "no_answer",
        "邻居说两天没见到她",
        "contacted",
        "话务员 小王",
    )
    assert (told["contacted_by_name"], told["contacted_note"]) == ("话务员 小陈", "女儿已上门")
    assert [(e["to"], e["name"]) for e in told["escalations"]] == [
        ("emergency_contact", "李红（女儿）"),
        ("community_duty", "时代家和社区"),
    ]
    assert [c["urgent"] for c in shown["items"] if c["reason"] != "safety"] == [None, None]

    # The handover counts the urgent call once among the calls its operator took, and once as opened.
    params = {"since": NOW.isoformat(), "until": (NOW + timedelta(hours=8)).isoformat()}
    handover = (await client.get("/api/v1/hotline/handover", params=params, headers=operator(test_keys))).json()
    wang = next(o for o in handover["operators"] if o["operator"] == "op-wang")
    assert (wang["calls"], wang["urgent_opened"]) == (1, 1)


async def test_a_double_press_and_two_operators_at_once_leave_one_entry(
    client: httpx.AsyncClient, test_keys: TestKeys, resident: dict[str, Any]
) -> None:
    rid = resident["id"]
    body = {"reason": "fall", "note": "摔倒在卫生间"}
    url = f"{RESIDENTS}/{rid}/urgent-calls"
    same_key = operator(test_keys) | {"Idempotency-Key": "urgent-timeline-1"}
    first, again = [await client.post(url, json=body, headers=same_key) for _ in range(2)]
    assert (first.status_code, again.status_code) == (201, 201)
    racing = await asyncio.gather(
        *(client.post(url, json=body, headers=operator(test_keys, f"话务员 {n}", f"op-{n}")) for n in range(3))
    )
    assert [r.status_code for r in racing] == [409, 409, 409]
    shown = await timeline(client, test_keys, rid)
    assert [(c["reason"], c["urgent"]["id"]) for c in shown["items"]] == [("safety", first.json()["id"])]


async def test_erasure_keeps_the_calls_and_callbacks_without_what_operators_wrote(
    client: httpx.AsyncClient,
    test_keys: TestKeys,
    resident: dict[str, Any],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    rid = resident["id"]
    logged = await client.post(
        f"{RESIDENTS}/{rid}/calls",
        json={
            "reason": "helper_request",
            "note": "女儿说张桂兰最近记性差",
            "caller": {"kind": "helper", "name": "李红", "relation": "女儿"},
            "callback": {"due_at": (NOW + timedelta(hours=2)).isoformat(), "reason": "问张桂兰复诊结果"},
        },
        headers=operator(test_keys),
    )
    assert logged.status_code == 201, logged.text
    callback_id = logged.json()["callback"]["id"]
    urgent = await client.post(
        f"{RESIDENTS}/{rid}/urgent-calls", json={"reason": "fall", "note": "张桂兰摔倒"}, headers=operator(test_keys)
    )
    for step, note in (("contacted", "李红已到"), ("resolved", "李红陪同就医")):
        moved = await client.post(
            f"/api/v1/hotline/urgent-calls/{urgent.json()['id']}/{step}",
            json={"note": note},
            headers=operator(test_keys),
        )
        assert moved.status_code == 200, moved.text

    erased = await client.delete(f"{RESIDENTS}/{rid}", headers=operator(test_keys))
    assert erased.status_code == 204, erased.text

    async with sessionmaker() as session:
        calls = (await session.scalars(select(CallRecord).where(CallRecord.resident_id == uuid.UUID(rid)))).all()
        assert sorted((c.reason, c.note, c.caller_name, c.caller_relation) for c in calls) == [
            ("helper_request", "", None, None),
            ("safety", "", None, None),
        ]
        callback = await session.get(Callback, uuid.UUID(callback_id))
        assert callback is not None
        assert (callback.reason, callback.last_note, callback.status) == ("（已删除）", None, "erased")
    # Nobody is left to call back: the shift's list no longer shows it, and the day's counts still hold.
    params = {"since": NOW.isoformat(), "until": (NOW + timedelta(hours=8)).isoformat()}
    handover = (await client.get("/api/v1/hotline/handover", params=params, headers=operator(test_keys))).json()
    assert handover["callbacks_due"] == []
    chen = next(o for o in handover["operators"] if o["operator"] == "op-chen")
    assert (chen["calls"], chen["callbacks_scheduled"], chen["urgent_opened"]) == (2, 1, 1)
