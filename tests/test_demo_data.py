"""The demo data `make run` loads goes in through the public API, and loading it again changes nothing. What an
official sees of this year's purchases: the meal table's direct award (proposed, approved by a second official,
signed) and the “云呵护” contract from a real call (reviewed, approved, announced, signed once its notice has run),
both drawing on the social-affairs office's fund; and the funded meal is free for 王秀英."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from service_kit.testing import eventually_blocking

from .conftest import DevStack, login

pytestmark = pytest.mark.stack


def every(client: httpx.Client, path: str, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = client.get(path, headers=headers, params={**params, "limit": 200, "offset": len(items)})
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        if not page.json()["items"] or len(items) >= page.json()["total"]:
            return items


def test_demo_data_loads(stack: DevStack, gateway: httpx.Client) -> None:
    from demo_data import (
        CLOUD_CARE,
        CLOUD_CARE_NEED,
        DEMO_ACCOUNTS,
        DIRECT_AWARD_RATIONALE,
        FUND_OWNER,
        MEAL_TABLE,
        MEAL_TABLE_FUNDING,
        ORGANIZATIONS,
        RESIDENTS,
        REVIEWERS,
        load_demo_data,
    )

    # A second load creates nothing, even after the data changed: tests/test_devstack.py, on a stack of its own.
    said: list[str] = []
    first = load_demo_data(stack.gateway_url, report=said.append)
    assert first["counts"] == {
        "providers": len(ORGANIZATIONS),
        "offerings": sum(len(o["offerings"]) for o in ORGANIZATIONS),
        "contracts": 2,
        "residents": len(RESIDENTS),
    }
    assert first["procurement"]["direct_awards"] == first["procurement"]["competitive_contracts"] == 1
    # The contract from the call waits for its public notice to end; the load says so.
    waiting = [line for line in said if line.startswith("skipped")]
    assert len(waiting) == 1, said
    assert waiting[0].startswith("skipped signing"), said
    assert "public notice takes objections until" in waiting[0], said

    operator = login(gateway, "operator")
    found = gateway.get("/api/v1/residents", headers=operator, params={"phone": RESIDENTS[0]["phone"]})
    assert found.status_code == 200, found.text
    wang = found.json()["items"][0]
    offerings = {o["name_zh"]: o for o in gateway.get("/api/v1/offerings", params={"limit": 200}).json()["items"]}
    assert MEAL_TABLE[1] == "时代家和老年餐桌"
    assert {MEAL_TABLE[1], CLOUD_CARE[1]} <= set(offerings)
    # Every demo account and every demo provider's admin can sign in with the documented password.
    for account in DEMO_ACCOUNTS:
        login(gateway, str(account["username"]))
    for spec in ORGANIZATIONS:
        login(gateway, spec["username"])

    # ---- What an official sees.
    official = login(gateway, "official")

    def subject(username: str) -> str:
        me = gateway.get("/api/v1/auth/me", headers=login(gateway, username))
        assert me.status_code == 200, me.text
        return str(me.json()["subject"])

    year = date.today().year
    contracts = every(gateway, "/api/v1/contracts", official)

    # The meal table's direct award (直接委托): its legal rationale, proposed by the official and approved by the
    # second official (four eyes), signed by both parties, funding the meal for residents aged 80+ or on a low income.
    [direct] = [c for c in contracts if c["title"] == f"{year}年度时代家和老年餐桌助餐服务项目"]
    assert direct["procurement_method"] == "direct"
    assert direct["award"]["rationale"] == DIRECT_AWARD_RATIONALE
    assert direct["award"]["status"] == "approved"
    assert direct["award"]["proposed_by"] == subject("official")
    assert direct["award"]["decided_by"] == subject("official2")
    assert direct["status"] == "active"
    assert direct["purchaser_signature"]["signed_by"] == subject("official")
    assert direct["provider_signature"]["signed_by"] == subject(MEAL_TABLE[0])
    [funded] = direct["funded_offerings"]
    assert funded["offering_id"] == offerings[MEAL_TABLE[1]]["id"]
    assert {k: funded[k] for k in MEAL_TABLE_FUNDING} == MEAL_TABLE_FUNDING
    assert (direct["amount_fen"], funded["unit_price_fen"] * funded["quota"]) == (3_000_000, 3_000_000)

    # The “云呵护” contract from a real call: the call answers the parents' need; two experts reviewed the
    # application; the office approved it and published the notice; the contract drafted from the application is
    # signed only once the notice has run.
    calls = every(gateway, "/api/v1/calls", official)
    [call] = [c for c in calls if c["title"] == f"{year}年度“云呵护”青少年安全守护服务项目征集"]
    assert call["status"] == "reviewed"
    assert call["fund_id"] == direct["fund_id"]
    pool = every(gateway, "/api/v1/need-pool", official, category_code=CLOUD_CARE_NEED["category_code"])
    [need] = [n for n in pool if n["summary"] == CLOUD_CARE_NEED["summary"]]
    assert call["need_ids"] == [need["id"]]
    reviewers = every(gateway, f"/api/v1/calls/{call['id']}/reviewers", official)
    assert sorted(r["reviewer_subject"] for r in reviewers) == sorted(subject(u) for u in REVIEWERS)
    assert {(r["declarations"], r["score_sheets"]) for r in reviewers} == {(1, 1)}
    [application] = every(gateway, f"/api/v1/calls/{call['id']}/applications", official)
    assert (application["status"], application["rank"], application["reviewer_count"]) == ("approved", 1, 2)
    [notice] = [n for n in every(gateway, "/api/v1/notices", official) if n["call_id"] == call["id"]]
    assert [p["application_id"] for p in notice["projects"]] == [application["id"]]
    beijing_today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    assert date.fromisoformat(notice["objection_deadline"]) >= beijing_today  # still taking objections
    [competitive] = [c for c in contracts if c["application_id"] == application["id"]]
    assert competitive["procurement_method"] == "open"
    assert (competitive["award"]["status"], competitive["award"]["rationale"]) == ("approved", None)
    assert competitive["fund_id"] == call["fund_id"]
    assert competitive["amount_fen"] == application["approved_amount_fen"]
    assert [f["offering_id"] for f in competitive["funded_offerings"]] == [offerings[CLOUD_CARE[1]]["id"]]
    assert date.fromisoformat(competitive["start_date"]) > date.fromisoformat(notice["objection_deadline"])
    assert (competitive["status"], competitive["purchaser_signature"], competitive["provider_signature"]) == (
        "draft",
        None,
        None,
    )
    early = gateway.post(f"/api/v1/contracts/{competitive['id']}/sign", headers=official, json={})
    assert (early.status_code, early.json()["code"]) == (409, "notice_period_running"), early.text

    # Both draw on the social-affairs office's fund, which has committed exactly what they are worth.
    fund = gateway.get(f"/api/v1/funds/{direct['fund_id']}", headers=official).json()
    assert (fund["name"], fund["year"]) == (f"{year}年社区服务专项资金", year)
    assert {k: fund[k] for k in FUND_OWNER} == FUND_OWNER
    assert fund["committed_fen"] == direct["amount_fen"] + competitive["amount_fen"]

    # ---- What 拱辰街道's official sees: the street's call, its contract and the parents' need; not the district's
    # direct award. The district's fund is read, not written.
    assert call["street_code"] == competitive["street_code"] == "gongchen"
    gongchen = login(gateway, "official-gongchen")
    assert gateway.get("/api/v1/auth/me", headers=gongchen).json()["street_code"] == "gongchen"
    assert [c["id"] for c in every(gateway, "/api/v1/contracts", gongchen)] == [competitive["id"]]
    assert [c["id"] for c in every(gateway, "/api/v1/calls", gongchen)] == [call["id"]]
    assert need["id"] in {n["id"] for n in every(gateway, "/api/v1/need-pool", gongchen)}
    hidden = gateway.get(f"/api/v1/contracts/{direct['id']}", headers=gongchen)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "contract_not_found")
    assert gateway.get(f"/api/v1/funds/{direct['fund_id']}", headers=gongchen).json()["id"] == direct["fund_id"]
    street_dashboard = gateway.get("/api/v1/funds/dashboard", headers=gongchen).json()
    assert street_dashboard["street_code"] == "gongchen"
    assert {b["key"] for b in street_dashboard["by_street"]} <= {"gongchen"}
    no_fund = gateway.post(
        "/api/v1/funds",
        headers=gongchen,
        json={"name": "街道资金", "year": year, "budget_fen": 1, "owner_id": "gongchen", "owner_name": "拱辰街道"},
    )
    assert (no_fund.status_code, no_fund.json()["code"]) == (403, "district_only")

    # ---- The funded meal is free for 王秀英 (80+): the operator's quote names the direct award.
    def quoted() -> dict[str, Any] | None:
        response = gateway.get(
            "/api/v1/bookings/quote",
            headers=operator,
            params={"offering_id": offerings[MEAL_TABLE[1]]["id"], "resident_id": wang["id"]},
        )
        assert response.status_code == 200, response.text
        quote: dict[str, Any] = response.json()
        return quote if quote["funded"] else None  # once booking has heard of contract.signed

    quote = eventually_blocking(quoted)
    assert (quote["funded_contract_id"], quote["resident_price_fen"], quote["subsidy_fen"]) == (direct["id"], 0, 1500)
