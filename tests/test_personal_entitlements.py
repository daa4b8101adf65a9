"""A resident's monthly entitlement through the gateway: the district states 5 subsidised lunches a month per
person on a signed contract; twelve bookings the call center makes for her at once are subsidised exactly five
times, the rest at full price saying why; her card shows what is left; a cancellation gives one back; a resident the
programme does not cover who claims it is refused."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from service_kit.testing import eventually_blocking

from .conftest import (
    funded_lunch_for_the_80_plus,
    login,
    registered_by_operator,
    verified_80_plus,
)

pytestmark = pytest.mark.stack


def test_a_residents_monthly_entitlement_is_exact_after_concurrent_bookings(gateway: httpx.Client) -> None:
    offering_id, contract = funded_lunch_for_the_80_plus(
        gateway, "拱辰老年餐桌", "老年餐桌·午餐", "拱辰街道高龄老人助餐项目", amount_fen=150_000
    )
    official = login(gateway, "official")
    rule = {"units_per_period": 5, "period": "month"}
    url = f"/api/v1/entitlements/programs/{contract['id']}/{offering_id}"

    def stated() -> dict[str, Any] | None:
        response = gateway.put(url, headers=official, json=rule)
        return response.json() if response.status_code == 200 else None  # 404 until booking heard of the contract

    assert eventually_blocking(stated)["units_per_period"] == 5
    operator = login(gateway, "operator")
    assert gateway.put(url, headers=operator, json=rule).status_code == 403

    elder = registered_by_operator(gateway, operator, name="张桂兰", eligibility_tags=["age_80_plus"])
    verified_80_plus(gateway, operator, elder)
    day = date.today() + timedelta(days=2)
    slots = gateway.get(
        "/api/v1/availability",
        headers=operator,
        params={"offering_id": offering_id, "from": day.isoformat(), "to": day.isoformat()},
    ).json()["slots"]
    assert len(slots) >= 12

    def book(slot: dict[str, Any]) -> httpx.Response:
        with httpx.Client(base_url=str(gateway.base_url), timeout=60.0) as client:
            return client.post(
                "/api/v1/bookings",
                headers=operator,
                json={"offering_id": offering_id, "slot_start": slot["start"], "resident_id": elder["id"]},
            )

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(book, slots[:12]))
    assert [r.status_code for r in responses] == [201] * 12, [r.text for r in responses if r.status_code != 201]
    booked = [r.json() for r in responses]
    assert sorted(b["subsidy_fen"] for b in booked) == [0] * 7 + [1500] * 5
    told = "本月补贴已用完（每月5次，已用5次），本次不享受补贴，按原价15元收费。"
    assert {b["price_note"] for b in booked if b["subsidy_fen"] == 0} == {told}

    card_url = f"/api/v1/residents/{elder['id']}/entitlements"
    card = gateway.get(card_url, headers=operator, params={"date": day.isoformat()})
    assert card.status_code == 200, card.text
    [lunches] = [e for e in card.json()["entitlements"] if e["offering_id"] == offering_id]
    assert (lunches["used"], lunches["left"]) == (5, 0)
    assert card.json()["eligibility"][0]["evidence_type"] == "id_card"
    quoted = gateway.get(
        "/api/v1/bookings/quote",
        headers=operator,
        params={"offering_id": offering_id, "resident_id": elder["id"], "date": day.isoformat()},
    ).json()
    assert (quoted["resident_price_fen"], quoted["price_note"]) == (1500, told)

    subsidised = next(b for b in booked if b["subsidy_fen"])
    cancel = gateway.post(f"/api/v1/bookings/{subsidised['id']}/cancel", headers=operator, json={"reason": "住院"})
    assert cancel.status_code == 200, cancel.text
    card = gateway.get(card_url, headers=operator, params={"date": day.isoformat()}).json()
    assert [e["left"] for e in card["entitlements"] if e["offering_id"] == offering_id] == [1]

    younger = registered_by_operator(gateway, operator, name="李明", eligibility_tags=["low_income"])
    claimed = gateway.post(
        "/api/v1/bookings",
        headers=operator,
        json={
            "offering_id": offering_id,
            "slot_start": slots[12]["start"],
            "resident_id": younger["id"],
            "contract_id": contract["id"],
        },
    )
    assert claimed.status_code == 422
    assert claimed.headers["content-type"].startswith("application/problem+json")
    assert (claimed.json()["code"], claimed.json()["errors"][0]["field"]) == ("not_eligible", "contract_id")
    mine = gateway.get("/api/v1/bookings", headers=operator, params={"resident_id": younger["id"]})
    assert mine.json()["total"] == 0
