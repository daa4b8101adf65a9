"""Erasure leaves nothing of the person anywhere: a resident with distinctive values (name, phone, ID number,
address, emergency contact, free text in a complaint and a rating comment) registers, signs in by phone code,
books in the app and through an operator (with Idempotency-Keys), rates and complains; then she is erased through
the gateway. Once ``linli.resident.erased.v1`` has settled, every column of every table of every service's database
(the gateway's included) is scanned for each value, and none is found.

The same scan before the erasure finds her (what shows the scan reads what the services store). Values stored
sealed (phone, ID number, the stored responses) are not found in plain text even before: scanning for the plain
value is still the right test, it is what a copy of the database would give away."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import inspect, text
from stdnum.cn import ric

from service_kit.db import create_engine
from service_kit.testing import eventually_blocking

from .conftest import (
    bearer,
    free_slots,
    login,
    new_phone,
    provider_with_offering,
    sign_in_by_code,
)

DATABASES = ("registry", "booking", "procurement", "feedback", "gateway")
_CJK = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳"


def _unique_chinese(tag: str) -> str:
    return "".join(_CJK[int(c, 16)] for c in tag)


def _id_number(seed: int) -> str:
    """A valid 18-character resident ID number nobody else in the run has (born in Fangshan, 1935–1944)."""
    birth = date(1935 + seed % 10, 1 + seed // 10 % 12, 1 + seed // 120 % 28)
    body = f"110111{birth:%Y%m%d}{seed // 3360 % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # it reads all but the last character


def _forms(value: str) -> set[str]:
    """How a value may be written in a column: as it is, or JSON-escaped (``\\u95bb…``)."""
    return {value, json.dumps(value)[1:-1]}


def _as_text(value: Any) -> str:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


async def _scan_database(url: str, values: dict[str, str]) -> list[str]:
    """Every ``table.column`` of the database at ``url`` holding one of ``values`` (by its key), read raw."""
    engine = create_engine(url)
    found: list[str] = []
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
            for table in tables:
                result = await conn.execute(text(f'SELECT * FROM "{table}"'))
                columns = list(result.keys())
                for row in result:
                    for column, cell in zip(columns, row, strict=True):
                        if cell is None:
                            continue
                        written = _as_text(cell)
                        for name, value in values.items():
                            if any(form in written for form in _forms(value)):
                                found.append(f"{table}.{column}: {name}")
    finally:
        await engine.dispose()
    return sorted(set(found))


def scan(urls: Iterable[tuple[str, str]], values: dict[str, str]) -> list[str]:
    async def everywhere() -> list[str]:
        found: list[str] = []
        for service, url in urls:
            found += [f"{service}: {hit}" for hit in await _scan_database(url, values)]
        return found

    return asyncio.run(everywhere())


def _inbox_has_erasure(urls: dict[str, str], consumers: tuple[str, ...]) -> bool:
    async def applied() -> bool:
        engine = create_engine(urls["feedback"])
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    text("SELECT consumer FROM inbox_event WHERE type = 'linli.resident.erased.v1'")
                )
                return set(consumers) <= {row[0] for row in rows}
        finally:
            await engine.dispose()

    return asyncio.run(applied())


def test_after_erasure_no_database_holds_anything_of_the_resident(gateway: httpx.Client, stack: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    seed = int(tag, 16)
    phone, contact_phone = new_phone(), new_phone()
    values = {
        "name": f"阎秋菊{_unique_chinese(tag[:4])}",
        "phone": phone,
        "id_number": _id_number(seed),
        "address": f"房山区长阳镇碧波园{seed % 97 + 1}号楼{tag}室",
        "emergency_name": f"阎建{_unique_chinese(tag[2:])}",
        "emergency_phone": contact_phone,
        "complaint": f"送餐员把汤洒了还骂人，编号{tag}投诉",
        "rating": f"饭菜偏咸，口味{tag}评价",
        # What operators wrote about her on the hotline.
        "call_note": f"儿子说她最近常忘关煤气{tag}",
        "caller_name": f"阎小{_unique_chinese(tag[1:5])}",
        "callback_reason": f"回访确认煤气阀{tag}",
        "callback_note": f"无人接听，邻居说去医院了{tag}",
        "urgent_note": f"邻居闻到煤气味敲门不应{tag}",
        "contacted_note": f"物业开门，人在卧室{tag}",
        "resolved_note": f"已送良乡医院{tag}",
    }
    operator = login(gateway, "operator")
    provider = provider_with_offering(gateway, f"碧波园助餐点{tag}")

    # The operator registers her on the phone (with an Idempotency-Key: a stored response under the operator's key).
    registered = gateway.post(
        "/api/v1/residents",
        headers=operator | {"Idempotency-Key": f"register-{tag}"},
        json={
            "name": values["name"],
            "phone": phone,
            "id_card_number": values["id_number"],
            "address": values["address"],
            "emergency_contact": {"name": values["emergency_name"], "phone": contact_phone, "relation": "儿子"},
            "consent": {"version": "2026-11", "channel": "phone"},
        },
    )
    assert registered.status_code == 201, registered.text
    resident_id = registered.json()["id"]
    # She signs in to the app by a code sent to her phone: the gateway's account of her phone names her record.
    tokens = sign_in_by_code(gateway, phone, consent_version="2026-11")
    herself = bearer(tokens)
    assert gateway.get(f"/api/v1/residents/{resident_id}", headers=herself).status_code == 200

    first, second = free_slots(gateway, provider["offering_id"], operator, count=2)
    in_the_app = gateway.post(
        "/api/v1/bookings",
        headers=herself | {"Idempotency-Key": f"book-{tag}"},
        json={"offering_id": provider["offering_id"], "slot_start": first["start"]},
    )
    assert in_the_app.status_code == 201, in_the_app.text
    by_operator = gateway.post(
        "/api/v1/bookings",
        headers=operator | {"Idempotency-Key": f"book-for-{tag}"},
        json={"offering_id": provider["offering_id"], "slot_start": second["start"], "resident_id": resident_id},
    )
    assert by_operator.status_code == 201, by_operator.text
    booking_id = in_the_app.json()["id"]
    for step in ("confirm", "start", "complete"):
        done = gateway.post(f"/api/v1/bookings/{booking_id}/{step}", headers=provider["admin"], json={})
        assert done.status_code == 200, f"{step}: {done.text}"
    cancelled = gateway.post(
        f"/api/v1/bookings/{by_operator.json()['id']}/cancel", headers=operator, json={"reason": "改约"}
    )
    assert cancelled.status_code == 200, cancelled.text

    def invited() -> bool:
        found = gateway.get("/api/v1/rating-invitations", headers=operator, params={"resident_id": resident_id})
        return any(i["booking_id"] == booking_id for i in found.json().get("items", []))

    # Rated once feedback heard of the completion: a refusal sent earlier under the key would be its answer for good.
    eventually_blocking(invited, timeout=60)
    rated = gateway.post(
        "/api/v1/ratings",
        headers=herself | {"Idempotency-Key": f"rate-{tag}"},
        json={"booking_id": booking_id, "stars": 2, "comment": values["rating"]},
    )
    assert rated.status_code == 201, rated.text
    complained = gateway.post(
        "/api/v1/complaints",
        headers=herself | {"Idempotency-Key": f"complain-{tag}"},
        json={
            "target_kind": "booking",
            "target_id": booking_id,
            "category": "staff_conduct",
            "description": values["complaint"],
        },
    )
    assert complained.status_code == 201, complained.text

    # Her son calls the hotline; a callback is scheduled and tried; later an urgent call is opened and worked.
    logged = gateway.post(
        f"/api/v1/residents/{resident_id}/calls",
        headers=operator,
        json={
            "reason": "helper_request",
            "note": values["call_note"],
            "caller": {"kind": "helper", "name": values["caller_name"], "relation": "儿子"},
            "callback": {
                "due_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
                "reason": values["callback_reason"],
            },
        },
    )
    assert logged.status_code == 201, logged.text
    tried = gateway.post(
        f"/api/v1/hotline/callbacks/{logged.json()['callback']['id']}/attempts",
        headers=operator,
        json={
            "outcome": "no_answer",
            "attempts": 0,
            "next_due_at": (datetime.now(UTC) + timedelta(hours=3)).isoformat(),
            "note": values["callback_note"],
        },
    )
    assert tried.status_code == 200, tried.text
    urgent = gateway.post(
        f"/api/v1/residents/{resident_id}/urgent-calls",
        headers=operator,
        json={"reason": "no_answer", "note": values["urgent_note"]},
    )
    assert urgent.status_code == 201, urgent.text
    for step, key in (("contacted", "contacted_note"), ("resolved", "resolved_note")):
        moved = gateway.post(
            f"/api/v1/hotline/urgent-calls/{urgent.json()['id']}/{step}", headers=operator, json={"note": values[key]}
        )
        assert moved.status_code == 200, moved.text
    timeline = gateway.get(f"/api/v1/residents/{resident_id}/calls", headers=operator).json()
    assert sorted(c["reason"] for c in timeline["items"]) == ["helper_request", "safety"]

    urls = [(name, stack.database_url(name)) for name in DATABASES]
    before = scan(urls, values)
    # The scan sees what the services keep: her name and address in booking, her words in feedback. (Her phone
    # and ID number are sealed at rest, so they are not found in plain text even now.)
    for expected in (
        "booking: resident.name: name",
        "booking: resident.address: address",
        "booking: resident.emergency_contact_name: emergency_name",
        "feedback: complaint.description: complaint",
        "feedback: rating.comment: rating",
        "booking: call_record.note: call_note",
        "booking: call_record.caller_name: caller_name",
        "booking: callback.reason: callback_reason",
        "booking: callback.last_note: callback_note",
        "booking: urgent_call.note: urgent_note",
        "booking: urgent_call.contacted_note: contacted_note",
        "booking: urgent_call.resolved_note: resolved_note",
    ):
        assert expected in before, before

    erased = gateway.delete(f"/api/v1/residents/{resident_id}", headers=herself)
    assert erased.status_code == 204, erased.text
    eventually_blocking(lambda: _inbox_has_erasure(dict(urls), ("feedback-resident-erasure",)), timeout=60)

    assert scan(urls, values) == []
    # The hotline's records of her stay, anonymous, and still count in the shift's handover.
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    until = (datetime.now(UTC) + timedelta(hours=8)).isoformat()
    handover = gateway.get("/api/v1/hotline/handover", headers=operator, params={"since": since, "until": until})
    assert handover.status_code == 200, handover.text
    operators = handover.json()["operators"]
    assert sum(o["calls"] for o in operators) >= 2
    assert sum(o["urgent_opened"] for o in operators) >= 1
    # Her app account is gone with her: the refresh of her sign-in is refused, and what stays is anonymous.
    refreshed = gateway.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert (refreshed.status_code, refreshed.json()["code"]) == (401, "invalid_refresh_token")
    kept = gateway.get(f"/api/v1/bookings/{booking_id}", headers=operator)
    assert (kept.status_code, kept.json()["resident_id"], kept.json()["resident"]) == (200, resident_id, None)
    complaint = gateway.get(f"/api/v1/complaints/{complained.json()['id']}", headers=operator).json()
    assert values["complaint"] not in json.dumps(complaint, ensure_ascii=False)
