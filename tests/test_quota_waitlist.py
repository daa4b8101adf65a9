"""Through the gateway: the district's subsidised lunches for residents of 80 and over are used up; an elder who
wants the subsidised price waits in line from the app instead of paying in full; when a subsidised lunch is
cancelled the unit is held for her, she reads the message that says so and its price, and accepting books her
lunch at the subsidised price. Another elder had booked at the full price and waits for a subsidy for that
booking: the operator reads the programme's line, she reads her place, and accepting re-prices her booking (the
SMS says what she now pays)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from service_kit.testing import eventually_blocking

from .conftest import (
    funded_lunch_for_the_80_plus,
    login,
    registered_by_operator,
    resident_in_the_app,
    slots_once_known,
    verified_80_plus,
)

pytestmark = pytest.mark.stack

WAITLIST = "/api/v1/bookings/waitlist"


def test_an_elder_waits_for_a_subsidised_lunch_and_books_it_at_the_subsidised_price(gateway: httpx.Client) -> None:
    offering_id, _ = funded_lunch_for_the_80_plus(
        gateway,
        "良乡老年餐桌",
        "老年餐桌·补贴午餐",
        "良乡镇高龄老人助餐项目",
        amount_fen=1500,
        quota=1,
        resident_price_fen=300,
    )
    operator = login(gateway, "operator")
    headers, elder, _ = resident_in_the_app(gateway, "赵淑华")
    verified_80_plus(gateway, operator, elder)
    day = date.today() + timedelta(days=2)
    slots = slots_once_known(gateway, offering_id, operator, (day, day))
    lunch_time = slots[12]["start"]
    wanted = {"kind": "quota", "offering_id": offering_id, "slot_start": lunch_time}

    def quota_known() -> dict[str, Any] | None:
        response = gateway.post(WAITLIST, headers=headers, json=wanted)
        return response.json() if response.status_code == 409 else None  # 422 until booking heard of the contract

    # While a subsidised lunch is left, she is told to book it instead of waiting.
    refused = eventually_blocking(quota_known)
    assert refused["code"] == "quota_not_full"
    assert "补贴名额还有剩余" in refused["detail"]

    neighbour = registered_by_operator(gateway, operator, name="孙桂芝", eligibility_tags=["age_80_plus"])
    first = gateway.post(
        "/api/v1/bookings",
        headers=operator,
        json={"offering_id": offering_id, "slot_start": slots[11]["start"], "resident_id": neighbour["id"]},
    )
    assert (first.status_code, first.json()["subsidy_fen"]) == (201, 1200), first.text
    joined = gateway.post(WAITLIST, headers=headers, json=wanted)
    assert joined.status_code == 201, joined.text
    assert (joined.json()["kind"], joined.json()["position"]) == ("quota", 1)

    cancelled = gateway.post(
        f"/api/v1/bookings/{first.json()['id']}/cancel", headers=operator, json={"reason": "住院了"}
    )
    assert cancelled.status_code == 200, cancelled.text

    def offered() -> dict[str, Any] | None:
        entry = gateway.get(f"{WAITLIST}/{joined.json()['id']}", headers=headers).json()
        return entry if entry["status"] == "offered" else None

    assert eventually_blocking(offered)["offer_expires_at"]
    inbox = gateway.get("/api/v1/notifications", headers=headers).json()["items"]
    message = next(m for m in inbox if m["title"] == "补贴名额有空了")
    assert message["body"].startswith("老年餐桌·补贴午餐（")
    assert "补贴名额有空了，补贴价3元，为您保留到" in message["body"]

    accepted = gateway.post(f"{WAITLIST}/{joined.json()['id']}/accept", headers=headers)
    assert accepted.status_code == 201, accepted.text
    booking = accepted.json()
    assert (booking["resident_id"], booking["price_fen"], booking["subsidy_fen"]) == (elder["id"], 300, 1200)
    mine = gateway.get("/api/v1/bookings", headers=headers).json()["items"]
    assert [(b["id"], b["price_fen"]) for b in mine] == [(booking["id"], 300)]


def test_a_lunch_booked_at_full_price_is_repriced_when_a_subsidised_unit_frees(gateway: httpx.Client) -> None:
    offering_id, contract = funded_lunch_for_the_80_plus(
        gateway,
        "城关老年餐桌",
        "老年餐桌·午餐",
        "城关街道高龄老人助餐项目",
        amount_fen=1500,
        quota=1,
        resident_price_fen=300,
    )
    operator = login(gateway, "operator")
    headers, elder, phone = resident_in_the_app(gateway, "钱玉兰")
    verified_80_plus(gateway, operator, elder)
    day = date.today() + timedelta(days=2)
    slots = slots_once_known(gateway, offering_id, operator, (day, day))
    neighbour = registered_by_operator(gateway, operator, name="周桂英", eligibility_tags=["age_80_plus"])

    def subsidised() -> dict[str, Any] | None:
        made = gateway.post(
            "/api/v1/bookings",
            headers=operator,
            json={"offering_id": offering_id, "slot_start": slots[11]["start"], "resident_id": neighbour["id"]},
        )
        if made.status_code == 201 and made.json()["subsidy_fen"] == 0:  # booking had not heard of the contract
            gateway.post(f"/api/v1/bookings/{made.json()['id']}/cancel", headers=operator, json={"reason": "重约"})
            return None
        return made.json() if made.status_code == 201 else None

    first = eventually_blocking(subsidised)
    assert first["subsidy_fen"] == 1200
    lunch_time = slots[12]["start"]
    booked = gateway.post(
        "/api/v1/bookings", headers=headers, json={"offering_id": offering_id, "slot_start": lunch_time}
    )
    assert booked.status_code == 201, booked.text
    mine = booked.json()
    assert (mine["price_fen"], mine["price_note"]) == (1500, "本项目的补贴名额已用完，本次按原价收费。")

    joined = gateway.post(
        WAITLIST, headers=headers, json={"kind": "quota", "offering_id": offering_id, "slot_start": lunch_time}
    )
    assert joined.status_code == 201, joined.text
    assert (joined.json()["for_booking_id"], joined.json()["position"]) == (mine["id"], 1)
    line = gateway.get(
        f"{WAITLIST}/quota", headers=operator, params={"contract_id": contract["id"], "offering_id": offering_id}
    )
    assert line.status_code == 200, line.text
    assert [(e["resident"]["name"], e["status"], e["position"]) for e in line.json()["items"]] == [
        ("钱玉兰", "waiting", 1)
    ]
    places = gateway.get(f"/api/v1/residents/{elder['id']}/waitlist", headers=headers, params={"open": "true"})
    assert [(p["offering_name"], p["position"]) for p in places.json()["items"]] == [("老年餐桌·午餐", 1)]

    cancelled = gateway.post(f"/api/v1/bookings/{first['id']}/cancel", headers=operator, json={"reason": "住院了"})
    assert cancelled.status_code == 200, cancelled.text

    def offered() -> bool:
        return bool(gateway.get(f"{WAITLIST}/{joined.json()['id']}", headers=headers).json()["status"] == "offered")

    eventually_blocking(offered)
    accepted = gateway.post(f"{WAITLIST}/{joined.json()['id']}/accept", headers=headers)
    assert accepted.status_code == 201, accepted.text
    assert (accepted.json()["id"], accepted.json()["price_fen"], accepted.json()["subsidy_fen"]) == (
        mine["id"],
        300,
        1200,
    )
    assert [(b["id"], b["price_fen"]) for b in gateway.get("/api/v1/bookings", headers=headers).json()["items"]] == [
        (mine["id"], 300)
    ]

    def texted() -> list[str]:
        outbox = gateway.get(
            "/api/v1/notifications/sms-outbox", headers=login(gateway, "admin"), params={"phone": phone}
        )
        return [m["text"] for m in outbox.json()["items"] if "已改按补贴价" in m["text"]]

    (sms,) = eventually_blocking(texted)
    assert sms.startswith("【邻里】您预约的老年餐桌·午餐（")
    assert sms.endswith("已改按补贴价，您只需付3元（原价15元）。")
