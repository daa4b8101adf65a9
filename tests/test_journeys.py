"""The checks issues 4 and 6 name, through the gateway as a new user would do them: an operator serves an elderly
caller (ID number, last digits, a funded service, delivery with check-in and check-out); a resident signs in by phone
code, books, retries, cancels; the rating, complaint, need and Open311 journeys of feedback."""

from __future__ import annotations

import uuid

import httpx
import pytest

from service_kit.testing import eventually_blocking

from .conftest import (
    booked_when_funded,
    free_slots,
    login,
    new_phone,
    provider_with_funded_offering,
    registered_by_operator,
    resident_in_the_app,
)

pytestmark = pytest.mark.stack

VALID_ID_CARD = "11010519491231002X"  # the standard's own example number: born 1949-12-31


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

    (slot,) = free_slots(gateway, world["offering_id"], operator)

    # The funded program reaches booking by event; until it has, a booking would be at the full price.
    booking = booked_when_funded(gateway, world["offering_id"], slot, resident["id"], lambda b: b["price_fen"] == 0)
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
    me, _, _ = resident_in_the_app(gateway, "孙晓雯")
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
    resident = registered_by_operator(gateway, operator, name="钱永福")
    bookings = []
    for slot in free_slots(gateway, world["offering_id"], operator, 2):
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

    eventually_blocking(invited)
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

    eventually_blocking(scored)

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

    eventually_blocking(in_pool)

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
