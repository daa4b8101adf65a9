"""The checks issues 4 and 6 name, through the gateway as a new user would do them: an operator serves an elderly
caller (ID number, last digits, a funded service, delivery with check-in and check-out); a resident signs in by phone
code, books, retries, cancels; the rating, complaint, need and Open311 journeys of feedback."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from .conftest import login, new_uscc, wait_for

pytestmark = pytest.mark.stack

VALID_ID_CARD = "11010519491231002X"  # the standard's own example number: born 1949-12-31


def new_phone() -> str:
    return f"137{uuid.uuid4().int % 10**8:08d}"


def direct_award(gateway: httpx.Client, terms: dict[str, Any]) -> dict[str, Any]:
    """A direct award (直接委托) of ``terms`` from a fund of its own: proposed by the demo official with its legal
    rationale once procurement knows the verified provider and its published offering (from the registry's
    events), and approved by a second official (four eyes)."""
    official, admin = login(gateway, "official"), login(gateway, "admin")
    fund = gateway.post(
        "/api/v1/funds",
        headers=official,
        json={
            "name": f"社区服务专项资金{uuid.uuid4().hex[:6]}",
            "year": date.today().year,
            "budget_fen": terms["amount_fen"],
            "owner_id": "fangshan-civil-affairs",
            "owner_name": "北京市房山区民政局",
        },
    )
    assert fund.status_code == 201, fund.text
    body = {**terms, "fund_id": fund.json()["id"], "rationale": "单一来源：本镇仅此一家机构提供上门助餐。"}

    def proposed() -> httpx.Response | None:
        response = gateway.post("/api/v1/contracts", headers=official, json=body)
        if response.status_code == 422 and response.json().get("code") in ("provider_not_verified", "offering_not_own"):
            return None
        return response

    contract = wait_for(proposed)
    assert contract.status_code == 201, contract.text
    username = f"official-{uuid.uuid4().hex[:8]}"
    account = {"username": username, "password": "official-password-2026", "roles": ["official"], "name": "李处长"}
    assert gateway.post("/api/v1/accounts", headers=admin, json=account).status_code == 201
    approved = gateway.post(
        f"/api/v1/contracts/{contract.json()['id']}/direct-award/approve",
        headers=login(gateway, username, "official-password-2026"),
        json={},
    )
    assert approved.status_code == 200, approved.text
    return dict(approved.json())


def provider_with_funded_offering(gateway: httpx.Client) -> dict[str, Any]:
    official, admin = login(gateway, "official"), login(gateway, "admin")
    org = gateway.post(
        "/api/v1/organizations",
        headers=official,
        json={"name_zh": "长阳助餐配送站", "kind": "commercial", "uscc": new_uscc()},
    ).json()
    assert gateway.post(f"/api/v1/organizations/{org['id']}/verify", headers=official, json={}).status_code == 200
    username = f"meals-{org['id'][:8]}"
    created = gateway.post(
        "/api/v1/accounts",
        headers=admin,
        json={
            "username": username,
            "password": "meals-password-2026",
            "roles": ["provider_admin"],
            "name": "长阳助餐配送站",
            "provider_id": org["id"],
        },
    )
    assert created.status_code == 201, created.text
    provider = login(gateway, username, "meals-password-2026")
    offering = gateway.post(
        "/api/v1/offerings",
        headers=provider,
        json={
            "provider_id": org["id"],
            "category_code": "elderly.meal_table",
            "name_zh": "助餐送餐上门",
            "mode": "door_to_door",
            "price_fen": 1800,
            "duration_minutes": 60,
            "capacity_per_slot": 5,
            "weekly_rules": [{"weekday": d, "start": "10:00", "end": "14:00"} for d in range(7)],
            "target_groups": ["elderly"],
        },
    ).json()
    published = gateway.post(f"/api/v1/offerings/{offering['id']}/publish", headers=provider, json={})
    assert published.status_code == 200, published.text
    contract = direct_award(
        gateway,
        {
            "title": "长阳镇高龄老人助餐服务项目",
            "provider_id": org["id"],
            "amount_fen": 180_000,
            "start_date": date.today().isoformat(),
            "end_date": (date.today() + timedelta(days=200)).isoformat(),
            "funded_offerings": [
                {
                    "offering_id": offering["id"],
                    "unit_price_fen": 1800,
                    "resident_price_fen": 0,
                    "quota": 100,
                    "eligibility_tags": ["age_80_plus"],
                }
            ],
        },
    )
    for party in (official, provider):  # both parties sign (双方签署)
        assert gateway.post(f"/api/v1/contracts/{contract['id']}/sign", headers=party, json={}).status_code == 200
    return {"provider_id": org["id"], "provider": provider, "offering_id": offering["id"]}


def slots_of(gateway: httpx.Client, offering_id: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    start = date.today() + timedelta(days=2)
    response = gateway.get(
        "/api/v1/availability",
        headers=headers,
        params={"offering_id": offering_id, "from": start.isoformat(), "to": (start + timedelta(days=3)).isoformat()},
    )
    return response.json().get("slots", []) if response.status_code == 200 else []


def test_booking_journeys(gateway: httpx.Client) -> None:
    operator = login(gateway, "operator")
    world = provider_with_funded_offering(gateway)
    phone = new_phone()
    caller = {
        "name": "赵桂兰",
        "phone": phone,
        "community_code": "changyang.tianxing",
        "eligibility_tags": ["age_80_plus", "living_alone"],
        "consent": {"version": "2026-11", "channel": "phone"},
    }

    bad = gateway.post("/api/v1/residents", headers=operator, json=caller | {"id_card_number": "110105194912310021"})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_id_card")
    registered = gateway.post("/api/v1/residents", headers=operator, json=caller | {"id_card_number": VALID_ID_CARD})
    assert registered.status_code == 201, registered.text
    resident = registered.json()
    assert VALID_ID_CARD not in registered.text

    found = gateway.get("/api/v1/residents", headers=operator, params={"phone_suffix": phone[-4:]}).json()
    assert resident["id"] in [r["id"] for r in found["items"]]

    slot = wait_for(lambda: slots_of(gateway, world["offering_id"], operator))[0]

    # The funded program reaches booking by event; until it has, a booking would be at the full price.
    def funded_booking() -> dict[str, Any] | None:
        response = gateway.post(
            "/api/v1/bookings",
            headers=operator,
            json={"offering_id": world["offering_id"], "slot_start": slot["start"], "resident_id": resident["id"]},
        )
        assert response.status_code == 201, response.text
        booking: dict[str, Any] = response.json()
        if booking["price_fen"] == 0:
            return booking
        gateway.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=operator, json={"reason": "重新预约"})
        return None

    booking = wait_for(funded_booking)
    assert booking["funded_contract_id"] is not None
    provider = world["provider"]
    position = {"latitude": 39.7289, "longitude": 116.1946}
    for step, body in (("confirm", {}), ("start", {"position": position}), ("complete", {"position": position})):
        response = gateway.post(f"/api/v1/bookings/{booking['id']}/{step}", headers=provider, json=body)
        assert response.status_code == 200, f"{step}: {response.text}"
    done = response.json()
    assert done["status"] == "completed"
    assert done["visit"]["checked_in_at"]
    assert done["visit"]["checked_out_at"]

    # A resident signs in by phone code (the SMS sender is a fake an admin can read), registers, books, retries.
    own_phone = new_phone()
    assert gateway.post("/api/v1/auth/otp", json={"phone": own_phone}).status_code == 202
    messages = gateway.get(
        "/api/v1/auth/otp/messages", headers=login(gateway, "admin"), params={"phone": own_phone}
    ).json()
    code = re.search(r"\d{6}", messages["items"][0]["text"])
    assert code is not None
    tokens = gateway.post("/api/v1/auth/otp/verify", json={"phone": own_phone, "code": code.group()})
    assert tokens.status_code == 200, tokens.text
    me = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    self_registered = gateway.post(
        "/api/v1/residents",
        headers=me,
        json={"name": "孙晓雯", "phone": own_phone, "consent": {"version": "2026-11", "channel": "app"}},
    )
    assert self_registered.status_code == 201, self_registered.text
    key = {"Idempotency-Key": f"app-{uuid.uuid4()}"}
    first = gateway.post(
        "/api/v1/bookings", headers=me | key, json={"offering_id": world["offering_id"], "slot_start": slot["start"]}
    )
    again = gateway.post(
        "/api/v1/bookings", headers=me | key, json={"offering_id": world["offering_id"], "slot_start": slot["start"]}
    )
    assert first.status_code == again.status_code == 201, first.text
    assert first.json()["id"] == again.json()["id"]
    cancelled = gateway.post(f"/api/v1/bookings/{first.json()['id']}/cancel", headers=me, json={"reason": "临时有事"})
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    # Someone else's booking does not exist for her.
    assert gateway.get(f"/api/v1/bookings/{booking['id']}", headers=me).status_code == 404


def test_feedback_journeys(gateway: httpx.Client) -> None:
    operator, official = login(gateway, "operator"), login(gateway, "official")
    world = provider_with_funded_offering(gateway)
    resident = gateway.post(
        "/api/v1/residents",
        headers=operator,
        json={"name": "钱永福", "phone": new_phone(), "consent": {"version": "2026-11", "channel": "phone"}},
    ).json()
    slots = wait_for(lambda: slots_of(gateway, world["offering_id"], operator))
    bookings = []
    for slot in slots[:2]:
        response = gateway.post(
            "/api/v1/bookings",
            headers=operator,
            json={"offering_id": world["offering_id"], "slot_start": slot["start"], "resident_id": resident["id"]},
        )
        assert response.status_code == 201, response.text
        bookings.append(response.json())
    completed = bookings[0]
    for step in ("confirm", "start", "complete"):
        assert gateway.post(f"/api/v1/bookings/{completed['id']}/{step}", headers=world["provider"], json={}).is_success

    def invited() -> bool:
        response = gateway.get("/api/v1/rating-invitations", headers=operator, params={"resident_id": resident["id"]})
        return any(i["booking_id"] == completed["id"] for i in response.json().get("items", []))

    wait_for(invited)
    rating = {"booking_id": completed["id"], "stars": 4}
    assert gateway.post("/api/v1/ratings", headers=operator, json=rating).status_code == 201
    twice = gateway.post("/api/v1/ratings", headers=operator, json=rating)
    assert (twice.status_code, twice.json()["code"]) == (409, "already_rated")
    not_completed = gateway.post(
        "/api/v1/ratings", headers=operator, json={"booking_id": str(uuid.uuid4()), "stars": 3}
    )
    assert not_completed.status_code == 404

    def scored() -> bool:
        org = gateway.get(f"/api/v1/organizations/{world['provider_id']}", headers=official).json()
        return bool(org.get("score", {}).get("count") == 1)

    wait_for(scored)

    # A complaint through its whole workflow.
    complaint = gateway.post(
        "/api/v1/complaints",
        headers=operator,
        json={
            "target_kind": "provider",
            "target_id": world["provider_id"],
            "category": "punctuality",
            "description": "送餐晚到一个小时，饭菜已凉。",
            "resident_id": resident["id"],
            "community_code": "changyang.tianxing",
        },
    )
    assert complaint.status_code == 201, complaint.text
    complaint_id = complaint.json()["id"]
    for step in ("acknowledge", "investigate", "resolve", "close"):
        response = gateway.post(
            f"/api/v1/complaints/{complaint_id}/{step}", headers=official, json={"note": f"{step} by the district"}
        )
        assert response.status_code == 200, f"{step}: {response.text}"
    assert response.json()["status"] == "closed"
    invalid = gateway.post(f"/api/v1/complaints/{complaint_id}/acknowledge", headers=official, json={})
    assert invalid.status_code == 409

    # A need reaches procurement's needs pool.
    need = gateway.post(
        "/api/v1/needs",
        headers=operator,
        json={
            "category_code": "elderly.day_care",
            "community_code": "changyang.tianxing",
            "text": "附近没有日间照料中心",
            "resident_id": resident["id"],
        },
    )
    assert need.status_code == 201, need.text
    group_key = need.json()["group_key"]

    def in_pool() -> bool:
        pool = gateway.get("/api/v1/need-pool", headers=official, params={"limit": 200}).json()
        return any(item.get("group_key") == group_key for item in pool.get("items", []))

    wait_for(in_pool)

    # An Open311 client files a request (form-encoded, as GeoReport v2 clients do) and reads its status.
    filed = gateway.post(
        "/open311/v2/requests.json",
        headers=operator,
        data={
            "service_code": "need.green",
            "description": "小区缺少旧衣物回收箱",
            "attribute[community_code]": "changyang.tianxing",
        },
    )
    assert filed.status_code == 201, filed.text
    request_id = filed.json()[0]["service_request_id"]
    status = gateway.get(f"/open311/v2/requests/{request_id}.json").json()
    assert status[0]["service_request_id"] == request_id
    assert status[0]["status"] in ("open", "closed")
