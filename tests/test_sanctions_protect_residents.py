"""Issue 15, through the gateway: a sanction bars a provider from new awards but its other contracts keep funding
their residents; a terminated contract's resident with an upcoming booking keeps the price they were told and
appears in the operators' list with an equivalent funded service near home."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from service_kit.testing import eventually_blocking

from .conftest import (
    RATIONALE,
    DevStack,
    award_terms,
    evaluate,
    login,
    new_account,
    new_fund,
    new_phone,
    new_provider,
    publish_offering,
    signed_direct_award,
)

pytestmark = pytest.mark.stack

BEIJING = ZoneInfo("Asia/Shanghai")
HOME = (39.7350, 116.1400)  # the resident's home in 长阳镇
REPLACEMENTS = "/api/v1/bookings/replacements"


def direct_contract(
    gateway: httpx.Client,
    provider: dict[str, Any],
    offering_id: str,
    title: str,
    fund_id: str,
    approver: dict[str, str],
) -> dict[str, Any]:
    """A direct award funding ``offering_id`` for residents of 80 and over (free for them, 15 yuan a unit for
    the district), proposed by the official, approved by a second one, signed by both parties. Procurement
    learns the provider and its offering from the registry's events: the proposal is retried until it has."""
    body = award_terms(title, provider["id"], offering_id, 200_000, fund_id=fund_id, rationale=RATIONALE)
    return signed_direct_award(gateway, body, approver, provider["admin"], {"reason": "符合单一来源条件"})


def located_offering(gateway: httpx.Client, provider: dict[str, Any], name: str, north_m: float) -> str:
    """A published meal table of ``provider`` at ``north_m`` metres north of the resident's home."""
    return publish_offering(
        gateway,
        provider,
        name,
        weekly_rules=[{"weekday": d, "start": "09:00", "end": "12:00"} for d in range(7)],
        lat=HOME[0] + north_m / 111_000,
        lng=HOME[1],
    )


def quote(gateway: httpx.Client, offering_id: str, resident_id: str, day: date) -> dict[str, Any]:
    response = gateway.get(
        "/api/v1/bookings/quote",
        headers=login(gateway, "operator"),
        params={"offering_id": offering_id, "resident_id": resident_id, "date": day.isoformat()},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def book(gateway: httpx.Client, offering_id: str, resident_id: str, day: date, hour: int) -> dict[str, Any]:
    slot = datetime.combine(day, time(hour), tzinfo=BEIJING)
    response = gateway.post(
        "/api/v1/bookings",
        headers=login(gateway, "operator"),
        json={"offering_id": offering_id, "resident_id": resident_id, "slot_start": slot.isoformat()},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def booking_knows_sanction(stack: DevStack, provider_id: str) -> bool:
    """Whether booking-service has recorded procurement's provider.sanctioned (no API shows it)."""

    async def read() -> bool:
        engine = create_async_engine(stack.database_url("booking"))
        try:
            async with engine.connect() as connection:
                rows = (await connection.execute(text("SELECT provider_id, sanctioned FROM provider_sanction"))).all()
        finally:
            await engine.dispose()
        return any(uuid.UUID(str(pid)) == uuid.UUID(provider_id) and bool(flag) for pid, flag in rows)

    return asyncio.run(read())


def test_a_sanction_keeps_other_contracts_funding_and_an_ended_contract_lists_its_residents(
    gateway: httpx.Client, stack: DevStack
) -> None:
    official, operator = login(gateway, "official"), login(gateway, "operator")
    suffix = f"{uuid.uuid4().int % 10**8:08d}"  # digits: the names show on the console, read for stray Latin
    evaluator = new_account(gateway, "evaluator", "中诚第三方评估")
    approver, _ = new_account(gateway, "official", "区社会办 李处长")
    office = {"owner_id": "fangshan-shehuiban", "owner_name": "北京市房山区社会工作委员会"}
    fund_id = new_fund(gateway, f"区级社区服务直接委托资金{suffix}", 2_000_000, office)

    # One provider holds two contracts (one of them fails its acceptance); another provider's meal table is a
    # few hundred metres from the resident's home.
    failing_provider = new_provider(gateway, f"长阳邻里助餐中心{suffix}")
    failing_offering = located_offering(gateway, failing_provider, f"长阳邻里助餐中心{suffix}一号餐桌", 50)
    other_offering = located_offering(gateway, failing_provider, f"长阳邻里助餐中心{suffix}二号餐桌", 100)
    neighbour = new_provider(gateway, f"碧桂园社区服务站{suffix}")
    nearby_offering = located_offering(gateway, neighbour, f"碧桂园社区老年餐桌{suffix}", 400)
    failing = direct_contract(
        gateway, failing_provider, failing_offering, f"长阳镇助餐服务项目{suffix}", fund_id, approver
    )
    other = direct_contract(
        gateway, failing_provider, other_offering, f"长阳镇助餐服务二期项目{suffix}", fund_id, approver
    )
    nearby = direct_contract(gateway, neighbour, nearby_offering, f"碧桂园助餐服务项目{suffix}", fund_id, approver)

    resident = gateway.post(
        "/api/v1/residents",
        headers=operator,
        json={
            "name": "张桂兰",
            "phone": new_phone(),
            "eligibility_tags": ["age_80_plus"],
            "position": {"latitude": HOME[0], "longitude": HOME[1]},
            "consent": {"version": "2026-11", "channel": "phone"},
        },
    )
    assert resident.status_code == 201, resident.text
    resident_id = resident.json()["id"]
    day = datetime.now(BEIJING).date() + timedelta(days=2)
    eventually_blocking(lambda: quote(gateway, other_offering, resident_id, day)["funded"])
    eventually_blocking(lambda: quote(gateway, nearby_offering, resident_id, day)["funded"])
    before = book(gateway, other_offering, resident_id, day, 9)
    assert (before["price_fen"], before["subsidy_fen"], before["funded_contract_id"]) == (0, 1500, other["id"])

    # ---- 优胜劣汰: the first contract fails its acceptance and the provider is sanctioned ...
    evaluate(gateway, failing["id"], "midterm", evaluator, 62, 62)
    evaluate(gateway, failing["id"], "final", evaluator, 61, 61)
    failed = gateway.post(
        f"/api/v1/contracts/{failing['id']}/acceptance",
        headers=official,
        json={
            "result": "failed",
            "summary": "服务人次不足约定的一半。",
            "recipient_opinions": [{"name": "李德顺", "opinion": "经常不来送餐。", "satisfied": False}],
            "evaluator_opinion": "评估机构意见已附。",
        },
    )
    assert failed.status_code == 201, failed.text
    sanctions = gateway.get("/api/v1/sanctions", headers=official, params={"provider_id": failing_provider["id"]})
    assert [s["status"] for s in sanctions.json()["items"]] == ["active"]
    eventually_blocking(lambda: booking_knows_sanction(stack, failing_provider["id"]))

    # ... which bars it from new awards, while its other contract keeps funding the resident: the booking made
    # before keeps its subsidy, and a new one is booked at the subsidised price.
    refused = gateway.post(
        "/api/v1/contracts",
        headers=official,
        json=award_terms(
            f"长阳镇助餐服务三期项目{suffix}",
            failing_provider["id"],
            failing_offering,
            100_000,
            quota=50,
            days=100,
            fund_id=fund_id,
            rationale="单一来源：该镇仅此一家机构具备老年餐桌服务能力。",
        ),
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "provider_sanctioned"), refused.text
    kept = gateway.get(f"/api/v1/bookings/{before['id']}", headers=operator).json()
    assert (kept["price_fen"], kept["subsidy_fen"]) == (0, 1500)
    assert quote(gateway, other_offering, resident_id, day)["resident_price_fen"] == 0
    after = book(gateway, other_offering, resident_id, day, 10)
    assert (after["price_fen"], after["subsidy_fen"], after["funded_contract_id"]) == (0, 1500, other["id"])
    assert gateway.get(REPLACEMENTS, headers=operator).json()["items"] == []

    # ---- The other contract is then terminated for cause: the resident's upcoming bookings are listed for the
    # operators, still at the price she was told, with the neighbour's funded meal table as the alternative.
    ended = gateway.post(
        f"/api/v1/contracts/{other['id']}/terminate", headers=official, json={"reason": "服务中断，合同解除"}
    )
    assert ended.status_code == 200, ended.text

    def listed() -> list[dict[str, Any]]:
        response = gateway.get(REPLACEMENTS, headers=operator)
        assert response.status_code == 200, response.text
        mine = [item for item in response.json()["items"] if item["contract_id"] == other["id"]]
        return mine if len(mine) == 2 else []

    entries = eventually_blocking(listed)
    assert sorted(e["booking"]["id"] for e in entries) == sorted([before["id"], after["id"]])
    for entry in entries:
        assert (entry["status"], entry["cause"]) == ("open", "terminated")
        assert (entry["booking"]["price_fen"], entry["booking"]["subsidy_fen"]) == (0, 1500)
        # Nearest first: the sanctioned provider's first meal table (its contract still runs: a sanction ends
        # no contract) 50 m away, then the neighbour's 400 m away; never the terminated contract's own.
        suggested = [(a["offering_id"], a["funded_contract_id"]) for a in entry["alternatives"]]
        assert suggested[:2] == [(failing_offering, failing["id"]), (nearby_offering, nearby["id"])]
        assert other_offering not in [offering for offering, _ in suggested]
        distances = [a["distance_m"] for a in entry["alternatives"]]
        assert distances == sorted(distances)
        neighbours = entry["alternatives"][1]
        assert neighbours["name_zh"] == f"碧桂园社区老年餐桌{suffix}"
        assert neighbours["resident_price_fen"] == 0
        assert 350 <= neighbours["distance_m"] <= 450
    officials_view = gateway.get(REPLACEMENTS, headers=official)
    assert officials_view.status_code == 200
    evaluators_view = gateway.get(REPLACEMENTS, headers=evaluator[0])
    assert (evaluators_view.status_code, evaluators_view.json()["code"]) == (403, "role_forbidden")

    # The operator rebooks her at the neighbour's meal table and closes the first entry.
    rebooked = book(gateway, nearby_offering, resident_id, day, 9)
    assert (rebooked["price_fen"], rebooked["funded_contract_id"]) == (0, nearby["id"])
    first_entry = next(e for e in entries if e["booking"]["id"] == before["id"])
    handled = gateway.post(
        f"{REPLACEMENTS}/{first_entry['id']}/handle",
        headers=operator,
        json={"outcome": "rebooked", "booking_id": rebooked["id"], "note": "老人同意改到碧桂园"},
    )
    assert handled.status_code == 200, handled.text
    assert gateway.get(f"/api/v1/bookings/{before['id']}", headers=operator).json()["status"] == "cancelled"
    still_open = [e["booking"]["id"] for e in gateway.get(REPLACEMENTS, headers=operator).json()["items"]]
    assert before["id"] not in still_open
    assert after["id"] in still_open

    # ---- Procurement keeps committed what the ended contract still owes: the booking she kept, one unit at
    # 15 yuan. The rest of its unpaid amount, and the booking she gave up for the neighbour's, went back to the fund.
    def owed() -> dict[str, Any] | None:
        seen = gateway.get(f"/api/v1/contracts/{other['id']}", headers=official).json()
        return seen if seen["kept_reported"] and seen["kept_fen"] == 1500 else None

    assert eventually_blocking(owed)["disbursed_fen"] == 0
    kept_bookings = gateway.get(f"/api/v1/contracts/{other['id']}/kept-bookings", headers=official).json()["items"]
    assert {k["booking_id"]: (k["state"], k["value_fen"]) for k in kept_bookings} == {
        before["id"]: ("lapsed", 1500),
        after["id"]: ("open", 1500),
    }
    fund = gateway.get(f"/api/v1/funds/{fund_id}", headers=official).json()
    assert (fund["committed_fen"], fund["spent_fen"]) == (failing["amount_fen"] + nearby["amount_fen"] + 1500, 0)
