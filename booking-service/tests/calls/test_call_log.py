"""The hotline's call log and callbacks: every call is filed under a reason with a note and what came of it, a
relative calling for a resident is recorded as such, and the card's timeline shows the calls; callbacks scheduled
from a call come due, are worked through (done, or no answer and a new time) once, even by two operators at once;
the handover counts what each operator took."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from booking.app import create_app
from booking.calls.reasons import REASONS, Reason
from booking.config import Settings
from service_kit.testing import Clock, TestKeys

pytestmark = pytest.mark.usefixtures("gazetteer")

NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 09:00 in Beijing, a Monday morning shift
SHIFT_END = NOW + timedelta(hours=8)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> FastAPI:
    return clock.answers(create_app(settings))


@pytest.fixture
async def resident(client: httpx.AsyncClient, test_keys: TestKeys) -> dict[str, Any]:
    body = {"name": "张桂兰", "phone": "13812345678", "consent": {"version": "2026-11", "channel": "phone"}}
    response = await client.post("/api/v1/residents", json=body, headers=test_keys.headers("operator"))
    assert response.status_code == 201, response.text
    return dict(response.json())


def operator(keys: TestKeys, name: str = "话务员 小陈", sub: str = "op-chen") -> dict[str, str]:
    return keys.headers("operator", name=name, sub=sub)


async def log(client: httpx.AsyncClient, headers: dict[str, str], resident_id: str, **body: Any) -> httpx.Response:
    return await client.post(f"/api/v1/residents/{resident_id}/calls", json=body, headers=headers)


def test_every_reason_code_has_its_chinese_name() -> None:
    assert list(REASONS) == list(Reason.__args__)
    assert all(name and not name.isascii() for name in REASONS.values())


async def test_a_relative_calling_is_recorded_and_the_timeline_shows_the_calls(
    client: httpx.AsyncClient, test_keys: TestKeys, resident: dict[str, Any], clock: Clock
) -> None:
    booking_id = str(uuid.uuid4())
    first = await log(
        client,
        operator(test_keys),
        resident["id"],
        reason="helper_request",
        note="女儿代母亲预约助餐",
        caller={"kind": "helper", "name": "李娜", "relation": "女儿"},
        outcome={"kind": "booking", "id": booking_id},
    )
    assert first.status_code == 201, first.text
    call = first.json()
    assert call["caller"] == {"kind": "helper", "name": "李娜", "relation": "女儿"}
    assert call["outcome"] == {"kind": "booking", "id": booking_id}
    assert call["operator_name"] == "话务员 小陈"
    clock.advance(minutes=30)
    second = await log(client, operator(test_keys), resident["id"], reason="service_question", note="问助浴价格")
    assert second.status_code == 201, second.text
    assert second.json()["caller"] == {"kind": "resident", "name": None, "relation": None}

    timeline = await client.get(f"/api/v1/residents/{resident['id']}/calls", headers=operator(test_keys))
    assert timeline.status_code == 200
    assert [(c["reason"], c["note"]) for c in timeline.json()["items"]] == [
        ("service_question", "问助浴价格"),
        ("helper_request", "女儿代母亲预约助餐"),
    ]


async def test_every_missing_detail_of_a_call_is_told_at_its_field(
    client: httpx.AsyncClient, test_keys: TestKeys, resident: dict[str, Any]
) -> None:
    response = await log(
        client,
        operator(test_keys),
        resident["id"],
        reason="helper_request",
        caller={"kind": "helper"},
        callback={"due_at": (NOW - timedelta(minutes=1)).isoformat(), "reason": "确认时间"},
    )
    assert response.status_code == 422, response.text
    assert [(e["pointer"], e["type"]) for e in response.json()["errors"]] == [
        ("#/caller/name", "caller_name_required"),
        ("#/caller/relation", "relation_required"),
        ("#/callback/due_at", "callback_in_past"),
    ]
    unknown = await log(client, operator(test_keys), resident["id"], reason="gossip")
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["pointer"] == "#/reason"
    nobody = await log(client, operator(test_keys), str(uuid.uuid4()), reason="other")
    assert nobody.status_code == 404
    provider = await log(client, test_keys.headers("provider"), resident["id"], reason="other")
    assert provider.status_code == 403
    timeline = await client.get(f"/api/v1/residents/{resident['id']}/calls", headers=operator(test_keys))
    assert timeline.json()["total"] == 0


async def schedule(client: httpx.AsyncClient, keys: TestKeys, resident_id: str, hours: float) -> dict[str, Any]:
    response = await log(
        client,
        operator(keys),
        resident_id,
        reason="book_service",
        note="助浴名额已满",
        callback={"due_at": (NOW + timedelta(hours=hours)).isoformat(), "reason": "有名额时回电"},
    )
    assert response.status_code == 201, response.text
    return dict(response.json()["callback"])


async def due(client: httpx.AsyncClient, keys: TestKeys, before: datetime) -> list[dict[str, Any]]:
    response = await client.get(
        "/api/v1/hotline/callbacks", params={"due_before": before.isoformat()}, headers=operator(keys)
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_a_callback_comes_due_and_is_worked_through(
    client: httpx.AsyncClient, test_keys: TestKeys, resident: dict[str, Any], clock: Clock
) -> None:
    callback = await schedule(client, test_keys, resident["id"], hours=2)
    assert callback["status"] == "due"
    assert await due(client, test_keys, NOW + timedelta(hours=1)) == []
    [listed] = await due(client, test_keys, SHIFT_END)
    assert listed["resident"]["name"] == "张桂兰"
    assert listed["reason"] == "有名额时回电"

    clock.advance(hours=2)
    work = f"/api/v1/hotline/callbacks/{callback['id']}/attempts"
    no_time = await client.post(work, json={"outcome": "no_answer", "attempts": 0}, headers=operator(test_keys))
    assert no_time.status_code == 422
    assert no_time.json()["errors"][0]["pointer"] == "#/next_due_at"
    again_at = NOW + timedelta(hours=4)
    no_answer = await client.post(
        work,
        json={"outcome": "no_answer", "attempts": 0, "next_due_at": again_at.isoformat(), "note": "无人接听"},
        headers=operator(test_keys),
    )
    assert no_answer.status_code == 200, no_answer.text
    assert no_answer.json()["attempts"] == 1
    assert datetime.fromisoformat(no_answer.json()["due_at"]) == again_at
    assert await due(client, test_keys, NOW + timedelta(hours=3)) == []

    done = await client.post(work, json={"outcome": "done", "attempts": 1}, headers=operator(test_keys))
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done"
    assert done.json()["done_by_name"] == "话务员 小陈"
    assert await due(client, test_keys, SHIFT_END) == []
    twice = await client.post(work, json={"outcome": "done", "attempts": 1}, headers=operator(test_keys))
    assert twice.status_code == 409
    assert twice.json()["code"] == "callback_changed"


async def test_two_operators_working_one_callback_record_one_outcome(
    client: httpx.AsyncClient, test_keys: TestKeys, resident: dict[str, Any]
) -> None:
    callback = await schedule(client, test_keys, resident["id"], hours=1)
    work = f"/api/v1/hotline/callbacks/{callback['id']}/attempts"
    answers = await asyncio.gather(
        client.post(work, json={"outcome": "done", "attempts": 0}, headers=operator(test_keys)),
        client.post(
            work,
            json={"outcome": "no_answer", "attempts": 0, "next_due_at": (NOW + timedelta(hours=3)).isoformat()},
            headers=operator(test_keys, "话务员 小王", "op-wang"),
        ),
    )
    assert sorted(a.status_code for a in answers) == [200, 409]


async def test_the_handover_shows_what_is_open_and_who_took_what(
    client: httpx.AsyncClient, test_keys: TestKeys, resident: dict[str, Any]
) -> None:
    await schedule(client, test_keys, resident["id"], hours=2)
    for _ in range(2):
        response = await log(
            client, operator(test_keys, "话务员 小王", "op-wang"), resident["id"], reason="other", note="问路"
        )
        assert response.status_code == 201
    handover = await client.get(
        "/api/v1/hotline/handover",
        params={"since": NOW.isoformat(), "until": SHIFT_END.isoformat()},
        headers=operator(test_keys),
    )
    assert handover.status_code == 200, handover.text
    body = handover.json()
    assert [c["reason"] for c in body["callbacks_due"]] == ["有名额时回电"]
    assert {o["operator_name"]: (o["calls"], o["callbacks_scheduled"]) for o in body["operators"]} == {
        "话务员 小陈": (1, 1),
        "话务员 小王": (2, 0),
    }
    backwards = await client.get(
        "/api/v1/hotline/handover",
        params={"since": SHIFT_END.isoformat(), "until": NOW.isoformat()},
        headers=operator(test_keys),
    )
    assert backwards.status_code == 422


async def test_a_retried_call_log_is_one_call(
    client: httpx.AsyncClient, test_keys: TestKeys, resident: dict[str, Any]
) -> None:
    """The operator's second press (or the browser's retry) with the same Idempotency-Key logs nothing more."""
    headers = operator(test_keys) | {"Idempotency-Key": "call-zgl-1"}
    body = {"reason": "other", "note": "问路", "callback": {"due_at": SHIFT_END.isoformat(), "reason": "再确认"}}
    first, again = [await log(client, headers, resident["id"], **body) for _ in range(2)]
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    timeline = await client.get(f"/api/v1/residents/{resident['id']}/calls", headers=operator(test_keys))
    assert timeline.json()["total"] == 1
    assert len(await due(client, test_keys, SHIFT_END)) == 1
