"""Through the gateway: the district's auditor reads every procurement record (the audit trail, the payments)
and changes nothing; a street-scoped official, whose street an admin set on the account, sees only their street's
calls; a provider's public standing names what it delivered."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx

from .conftest import (
    PAYER,
    RATIONALE,
    SOCIAL_AFFAIRS,
    award_terms,
    beijing_today,
    login,
    new_account,
    new_fund,
    provider_with_offering,
    signed_direct_award,
)

CRITERIA = [
    {"code": "feasibility", "name": "项目可行性", "weight": 40},
    {"code": "capacity", "name": "机构能力", "weight": 30},
    {"code": "past_performance", "name": "以往履约表现", "weight": 30},
]


def street_official(gateway: httpx.Client, street: str) -> dict[str, str]:
    """An admin makes an official's account scoped to ``street``; the street rides in the official's token."""
    headers = new_account(gateway, "official", f"{street}街道 官员", street_code=street).headers
    assert gateway.get("/api/v1/auth/me", headers=headers).json()["street_code"] == street
    return headers


def audited_award(
    gateway: httpx.Client, provider: dict[str, Any], fund_id: str, approver: dict[str, str]
) -> dict[str, Any]:
    """A signed, active direct award of the provider's meal table, open to all residents."""
    terms = award_terms(
        "审计抽查老年餐桌服务项目",
        provider["id"],
        provider["offering_id"],
        300_000,
        eligibility_tags=(),
        start=beijing_today(),
        fund_id=fund_id,
        rationale=RATIONALE,
    )
    signed = signed_direct_award(gateway, terms, approver, provider["admin"])
    assert signed["status"] == "active", signed
    return signed


def test_the_auditor_reads_the_trail_and_the_payments_and_changes_nothing(gateway: httpx.Client) -> None:
    official, auditor = login(gateway, "official"), login(gateway, "auditor")
    provider = provider_with_offering(gateway, f"审计抽查助老服务社{uuid.uuid4().int % 10**8:08d}")
    approver = new_account(gateway, "official", "区社会办 李处长").headers
    fund_id = new_fund(gateway, "审计抽查资金", 1_000_000, SOCIAL_AFFAIRS, year=2026)
    contract = audited_award(gateway, provider, fund_id, approver)
    payments = f"/api/v1/contracts/{contract['id']}/disbursements"
    voucher = {"voucher_number": f"FS-{uuid.uuid4().hex[:10]}", "paid_on": beijing_today().isoformat()}
    paid = gateway.post(payments, headers=official, json=voucher)
    assert paid.status_code == 201, paid.text

    # The auditor reads the fund's audit trail (who created it, who committed the award) and the payment.
    trail = gateway.get(f"/api/v1/audit-trail/{fund_id}", headers=auditor)
    assert trail.status_code == 200, trail.text
    assert trail.json()["items"][0]["action"] == "created"
    seen = gateway.get(payments, headers=auditor)
    assert seen.status_code == 200, seen.text
    assert [p["voucher_number"] for p in seen.json()["items"]] == [voucher["voucher_number"]]
    assert gateway.get(f"/api/v1/contracts/{contract['id']}/history", headers=auditor).status_code == 200

    # Any change is refused at the gateway, and nothing is paid twice.
    for url, body in (
        (payments, {**voucher, "voucher_number": "FS-AUDITOR"}),
        ("/api/v1/funds", {"name": "x", "year": 2026, "budget_fen": 1, "owner_id": "x", "owner_name": "x"}),
        (f"/api/v1/contracts/{contract['id']}/terminate", {"reason": "审计"}),
    ):
        refused = gateway.post(url, headers=auditor, json=body)
        assert (refused.status_code, refused.json()["code"]) == (403, "role_forbidden"), (url, refused.text)
    assert gateway.get(payments, headers=auditor).json()["total"] == 1

    # The provider's public standing (no login) is there for everyone; it lists contracts once accepted.
    standing = gateway.get(f"/open-data/providers/{provider['id']}/standing")
    assert standing.status_code == 200, standing.text
    assert (standing.json()["accepted_contracts"], standing.json()["sanctioned_now"]) == ([], False)


def test_a_street_scoped_official_sees_only_their_streets_calls(gateway: httpx.Client) -> None:
    official = login(gateway, "official")
    changyang, yancun = street_official(gateway, "changyang"), street_official(gateway, "yancun")
    fund_id = new_fund(gateway, "街道资金", 1_000_000, SOCIAL_AFFAIRS, year=2026)
    body = {
        "title": "长阳镇助餐服务项目征集",
        "description": "面向长阳镇80岁以上老人的助餐服务。",
        "directions": ["elderly_care"],
        "budget_cap_fen": 100_000,
        "fund_id": fund_id,
        "criteria": CRITERIA,
        "deadline": (date.today() + timedelta(days=30)).isoformat() + "T10:00:00+08:00",
    }
    call = gateway.post("/api/v1/calls", headers=changyang, json=body)
    assert call.status_code == 201, call.text
    assert call.json()["street_code"] == "changyang"
    url = f"/api/v1/calls/{call.json()['id']}"
    assert gateway.get(url, headers=changyang).status_code == 200
    other = gateway.get(url, headers=yancun)
    assert (other.status_code, other.json()["code"]) == (404, "call_not_found")
    assert gateway.get(url, headers=official).json()["street_code"] == "changyang"
    refused = gateway.post("/api/v1/calls", headers=changyang, json={**body, "street_code": "yancun"})
    assert (refused.status_code, refused.json()["code"], refused.json()["field"]) == (
        403,
        "street_forbidden",
        "street_code",
    )


def test_a_street_scoped_official_reads_the_districts_funds_and_only_their_streets_trail_and_figures(
    gateway: httpx.Client,
) -> None:
    official = login(gateway, "official")
    changyang, yancun = street_official(gateway, "changyang"), street_official(gateway, "yancun")
    fund_body = {"name": "街道资金", "year": 2026, "budget_fen": 1_000_000, "owner_id": "x", "owner_name": PAYER}
    # Opening a fund binds the whole district: refused to a street-scoped official, at the service.
    no_fund = gateway.post("/api/v1/funds", headers=changyang, json=fund_body)
    assert (no_fund.status_code, no_fund.json()["code"]) == (403, "district_only"), no_fund.text
    fund = gateway.post("/api/v1/funds", headers=official, json=fund_body)
    assert fund.status_code == 201, fund.text
    # The district's fund and its trail are read by every official.
    assert gateway.get(f"/api/v1/funds/{fund.json()['id']}", headers=changyang).status_code == 200
    trail = gateway.get(f"/api/v1/audit-trail/{fund.json()['id']}", headers=changyang)
    assert (trail.status_code, trail.json()["items"][0]["action"]) == (200, "created"), trail.text

    body = {
        "title": "阎村镇助餐服务项目征集",
        "description": "面向阎村镇80岁以上老人的助餐服务。",
        "directions": ["elderly_care"],
        "budget_cap_fen": 100_000,
        "fund_id": fund.json()["id"],
        "criteria": CRITERIA,
        "deadline": (date.today() + timedelta(days=30)).isoformat() + "T10:00:00+08:00",
    }
    call = gateway.post("/api/v1/calls", headers=yancun, json=body)
    assert call.status_code == 201, call.text
    # Another street's call has no trail for them; its own street's official and the district's read it.
    hidden = gateway.get(f"/api/v1/audit-trail/{call.json()['id']}", headers=changyang)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "audit_trail_not_found")
    for headers in (yancun, official):
        assert gateway.get(f"/api/v1/audit-trail/{call.json()['id']}", headers=headers).status_code == 200
    # The dashboard and the sanctions are their street's.
    figures = gateway.get("/api/v1/funds/dashboard", headers=changyang)
    assert (figures.status_code, figures.json()["street_code"]) == (200, "changyang"), figures.text
    assert {b["key"] for b in figures.json()["by_street"]} <= {"changyang"}
    assert gateway.get("/api/v1/funds/dashboard", headers=official).json()["street_code"] is None
    sanctions = gateway.get("/api/v1/sanctions", headers=changyang)
    assert sanctions.status_code == 200, sanctions.text
    assert all(s["contract_id"] is not None for s in sanctions.json()["items"])
