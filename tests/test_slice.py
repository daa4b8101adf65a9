"""The first vertical slice through the gateway, over real HTTP and real NATS, as a new user would drive it:
an organization is verified, publishes an offering, the government funds it, an operator books it for an
elderly caller, the provider delivers it, the resident's rating reaches the provider's score, and the
completed visit counts as a deliverable of the contract."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from service_kit.testing import eventually_blocking

from .conftest import OFFERING, login, new_uscc, slots_once_known

pytestmark = pytest.mark.stack


def test_vertical_slice(gateway: httpx.Client) -> None:
    official = login(gateway, "official")
    admin = login(gateway, "admin")
    operator = login(gateway, "operator")

    # An official registers and verifies a provider; the provider gets an account of its own.
    org = gateway.post(
        "/api/v1/organizations",
        headers=official,
        json={"name_zh": "时代家和助餐服务社", "kind": "public_welfare", "uscc": new_uscc()},
    )
    assert org.status_code == 201, org.text
    # No banner names the server software to a scanner: neither the gateway's nor the registry's behind it.
    assert "server" not in org.headers, org.headers
    provider_id = org.json()["id"]
    verified = gateway.post(f"/api/v1/organizations/{provider_id}/verify", headers=official, json={})
    assert verified.status_code == 200, verified.text
    username = f"provider-{provider_id[:8]}"
    account = gateway.post(
        "/api/v1/accounts",
        headers=admin,
        json={
            "username": username,
            "password": "a-long-provider-password",
            "roles": ["provider_admin"],
            "name": "时代家和助餐服务社",
            "provider_id": provider_id,
        },
    )
    assert account.status_code == 201, account.text
    provider = login(gateway, username, "a-long-provider-password")

    # The provider publishes a meal table open every day; booking-service learns it from the event.
    offering = gateway.post(
        "/api/v1/offerings",
        headers=provider,
        json={
            "provider_id": provider_id,
            **OFFERING,
            "name_zh": "老年餐桌（午餐）",
            "name_en": "Meal table (lunch)",
            "auto_confirm": False,
        },
    )
    assert offering.status_code == 201, offering.text
    offering_id = offering.json()["id"]
    published = gateway.post(f"/api/v1/offerings/{offering_id}/publish", headers=provider, json={})
    assert published.status_code == 200, published.text

    days = (date.today() + timedelta(days=1), date.today() + timedelta(days=7))
    available = slots_once_known(gateway, offering_id, operator, days)
    slot = available[0]

    # The district funds the meal table for residents aged 80 and over: a direct award (直接委托) from its fund,
    # proposed by an official with its legal rationale and approved by a second official (four eyes).
    fund = gateway.post(
        "/api/v1/funds",
        headers=official,
        json={
            "name": "社区服务专项资金",
            "year": date.today().year,
            "budget_fen": 1_000_000,
            "owner_id": "fangshan-civil-affairs",
            "owner_name": "北京市房山区民政局",
        },
    )
    assert fund.status_code == 201, fund.text
    award = {
        "title": "老年餐桌助餐服务项目",
        "provider_id": provider_id,
        "amount_fen": 300_000,
        "start_date": date.today().isoformat(),
        "end_date": (date.today() + timedelta(days=300)).isoformat(),
        "funded_offerings": [
            {
                "offering_id": offering_id,
                "unit_price_fen": 1500,
                "resident_price_fen": 0,
                "quota": 100,
                "eligibility_tags": ["age_80_plus"],
            }
        ],
        "fund_id": fund.json()["id"],
        "rationale": "单一来源：该社区仅此一家机构开设老年餐桌（《政府购买服务管理办法》第二十二条）。",
    }

    def proposed() -> httpx.Response | None:
        # Procurement learns the verified provider and its published offering from the registry's events.
        response = gateway.post("/api/v1/contracts", headers=official, json=award)
        if response.status_code == 422 and response.json().get("code") in ("provider_not_verified", "offering_not_own"):
            return None
        return response

    contract = eventually_blocking(proposed)
    assert contract.status_code == 201, contract.text
    contract_id = contract.json()["id"]
    approver_name = f"official-{provider_id[:8]}"
    second = gateway.post(
        "/api/v1/accounts",
        headers=admin,
        json={
            "username": approver_name,
            "password": "a-long-official-password",
            "roles": ["official"],
            "name": "李处长",
        },
    )
    assert second.status_code == 201, second.text
    approver = login(gateway, approver_name, "a-long-official-password")
    own = gateway.post(f"/api/v1/contracts/{contract_id}/direct-award/approve", headers=official, json={})
    assert (own.status_code, own.json()["code"]) == (403, "own_proposal"), own.text
    approved = gateway.post(f"/api/v1/contracts/{contract_id}/direct-award/approve", headers=approver, json={})
    assert approved.status_code == 200, approved.text
    assert approved.json()["award"]["status"] == "approved"
    # Both parties sign (双方签署): the district, then the provider; with the second signature it is active.
    signed_by_district = gateway.post(f"/api/v1/contracts/{contract_id}/sign", headers=official, json={})
    assert (signed_by_district.status_code, signed_by_district.json()["status"]) == (200, "draft")
    signed = gateway.post(f"/api/v1/contracts/{contract_id}/sign", headers=provider, json={})
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "active"

    # An elderly caller phones in; the operator registers her and books the funded lunch.
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    resident = gateway.post(
        "/api/v1/residents",
        headers=operator,
        json={
            "name": "王秀英",
            "phone": phone,
            "community_code": "gongchen.shidai_jiahe",  # the registry gazetteer's code
            "eligibility_tags": ["age_80_plus", "living_alone"],
            "consent": {"version": "2026-11", "channel": "phone"},
        },
    )
    assert resident.status_code == 201, resident.text
    resident_id = resident.json()["id"]

    # The funded program reaches booking-service by event (contract.signed); from then on her lunch is free. Only
    # a booking the contract funds is its deliverable: one she paid in full is not the district's to pay.
    def funded() -> bool:
        quote = gateway.get(
            "/api/v1/bookings/quote",
            headers=operator,
            params={"offering_id": offering_id, "resident_id": resident_id, "date": slot["start"][:10]},
        )
        return quote.status_code == 200 and bool(quote.json()["funded"])

    eventually_blocking(funded)

    def book() -> dict[str, Any] | None:
        response = gateway.post(
            "/api/v1/bookings",
            headers=operator | {"Idempotency-Key": f"slice-{resident_id}"},
            json={
                "offering_id": offering_id,
                "slot_start": slot["start"],
                "resident_id": resident_id,
                "channel": "phone",
            },
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    booking = book()
    assert booking is not None
    booking_id = booking["id"]
    assert booking["status"] == "requested"
    assert (booking["funded_contract_id"], booking["price_fen"]) == (contract_id, 0)
    # A retried POST with the same key returns the same booking, not a second one.
    assert book()["id"] == booking_id  # type: ignore[index]

    for step in ("confirm", "start", "complete"):
        response = gateway.post(f"/api/v1/bookings/{booking_id}/{step}", headers=provider, json={})
        assert response.status_code == 200, f"{step}: {response.text}"
    assert response.json()["status"] == "completed"

    # feedback-service opened a rating invitation from booking.completed.
    def invitation() -> bool:
        response = gateway.get("/api/v1/rating-invitations", headers=operator, params={"resident_id": resident_id})
        return response.status_code == 200 and any(i["booking_id"] == booking_id for i in response.json()["items"])

    eventually_blocking(invitation)
    rating = gateway.post(
        "/api/v1/ratings",
        headers=operator,
        json={"booking_id": booking_id, "stars": 5, "comment": "饭菜可口，送餐及时，电话13800138000"},
    )
    assert rating.status_code == 201, rating.text
    assert "13800138000" not in rating.text

    # The registry's score for the provider follows rating.submitted.
    def scored() -> dict[str, Any] | None:
        body = gateway.get(f"/api/v1/organizations/{provider_id}", headers=official).json()
        return body if body.get("score", {}).get("count") == 1 else None

    org_after = eventually_blocking(scored)
    assert org_after["score"]["average"] == 5

    # Procurement counted the completed visit as a deliverable of the contract.
    def delivered() -> list[dict[str, Any]]:
        response = gateway.get(f"/api/v1/contracts/{contract_id}/deliverables", headers=official)
        return response.json()["items"] if response.status_code == 200 else []

    [deliverable] = eventually_blocking(delivered)
    assert deliverable["booking_id"] == booking_id


def test_gateway_health_reports_every_service(gateway: httpx.Client) -> None:
    health = gateway.get("/healthz")
    assert health.status_code == 200
    assert health.json()["services"] == {
        "registry": "ok",
        "booking": "ok",
        "procurement": "ok",
        "feedback": "ok",
    }


def test_head_is_answered_by_the_gateway_and_by_the_services(gateway: httpx.Client) -> None:
    """An uptime check or ``curl -I``: the gateway's own routes and a forwarded path answer HEAD as GET, without
    the body (uvicorn on a real socket: the length says what GET would send)."""
    for path in ("/healthz", "/.well-known/jwks.json", "/open-data/hsds/"):
        get = gateway.get(path)
        head = gateway.head(path)
        assert (head.status_code, head.content) == (200, b""), path
        assert head.headers["content-length"] == get.headers["content-length"], path
        assert head.headers["x-request-id"], path


def test_aggregated_openapi_lists_every_service(gateway: httpx.Client) -> None:
    spec = gateway.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/v1/organizations", "/api/v1/bookings", "/api/v1/contracts", "/api/v1/ratings"):
        assert path in paths, path
    assert not spec.get("x-linli-missing")
