"""The check of the issue "Residents are known and reached" (its first part: one person, one resident record),
through the gateway as the app and the call center do it: a resident an operator registered signs in by phone
code and finds the profile and bookings the operator made for her; registered in the app, she is found by the
call center; nobody registers or moves to a phone they did not prove; a landline or a number abroad gets no code.
"""

from __future__ import annotations

import httpx
import pytest

from .conftest import (
    PHONE_CONSENT,
    bearer,
    book_for,
    code_for,
    free_slots,
    login,
    me,
    new_phone,
    otp_messages,
    provider_with_offering,
    registered_by_operator,
    sign_in_by_code,
)

pytestmark = pytest.mark.stack


def published_offering(gateway: httpx.Client) -> str:
    """A verified provider's published meal service, bookable once booking has learned of it (named as no demo
    offering is: the stack is shared, and other tests find the demo's offerings by name)."""
    provider = provider_with_offering(gateway, "身份测试助餐服务社", "身份测试午餐（仅测试用）", capacity_per_slot=20)
    return str(provider["offering_id"])


def test_a_resident_an_operator_registered_signs_in_and_finds_her_profile_and_bookings(
    gateway: httpx.Client,
) -> None:
    operator = login(gateway, "operator")
    offering_id = published_offering(gateway)
    phone = new_phone()
    # 王秀英 phones the call center; the operator registers her (as the demo data does) and books her lunch.
    registered = registered_by_operator(
        gateway,
        operator,
        name="王秀英",
        phone=phone,
        community_code="gongchen.shidai_jiahe",
        eligibility_tags=["age_80_plus", "living_alone"],
    )
    wang = registered
    (slot,) = free_slots(gateway, offering_id, operator)
    booked = book_for(gateway, operator, offering_id, slot["start"], wang["id"])

    # Later she installs the app and signs in with her phone and the code she receives.
    tokens = sign_in_by_code(gateway, phone, consent_version="2026-11")
    mine = bearer(tokens)
    assert me(gateway, mine)["resident_id"] == wang["id"]
    profile = gateway.get(f"/api/v1/residents/{wang['id']}", headers=mine)
    assert profile.status_code == 200, profile.text
    assert profile.json()["name"] == "王秀英"
    assert profile.json()["phone"] == "+86" + phone
    assert profile.json()["eligibility_tags"] == ["age_80_plus", "living_alone"]
    assert profile.json()["consent"]["channel"] == "phone"  # the consent she gave the operator stays as it was
    bookings = gateway.get("/api/v1/bookings", headers=mine)
    assert bookings.status_code == 200
    assert [(b["id"], b["channel"]) for b in bookings.json()["items"]] == [(booked["id"], "phone")]
    # Her record and her bookings are personal data: no cache on the way keeps them (service_kit.edge), while the
    # public category tree may be kept a minute; no answer names the server software.
    booking = gateway.get(f"/api/v1/bookings/{booked['id']}", headers=mine)
    assert booking.status_code == 200, booking.text
    for answer in (profile, bookings, booking):
        assert answer.headers["cache-control"] == "no-store"
        assert "server" not in answer.headers
    categories = gateway.get("/api/v1/categories")
    assert categories.headers["cache-control"] == "public, max-age=60"
    assert "server" not in categories.headers
    quote = gateway.get("/api/v1/bookings/quote", headers=mine, params={"offering_id": offering_id})
    assert quote.status_code == 200, quote.text
    # Her app does not make her a second record; her export shows how the app account was linked.
    again = gateway.post(
        "/api/v1/residents",
        headers=mine,
        json={"name": "王秀英", "phone": phone, "consent": {"version": "2026-11", "channel": "app"}},
    )
    assert (again.status_code, again.json()["code"]) == (409, "already_registered")
    export = gateway.get(f"/api/v1/residents/{wang['id']}/export", headers=mine).json()
    assert [(link["how"], link["consent_version"], link["consent_source"]) for link in export["account_links"]] == [
        ("phone_sign_in", "2026-11", "app")
    ]
    # A refresh, and a sign-in on another day, are the same record.
    refreshed = gateway.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    assert me(gateway, bearer(refreshed.json()))["resident_id"] == wang["id"]
    assert me(gateway, bearer(sign_in_by_code(gateway, phone)))["resident_id"] == wang["id"]
    found = gateway.get("/api/v1/residents", headers=operator, params={"phone": phone}).json()
    assert [r["id"] for r in found["items"]] == [wang["id"]]


def test_registered_in_the_app_the_call_center_finds_the_same_record(gateway: httpx.Client) -> None:
    operator = login(gateway, "operator")
    phone = new_phone()
    mine = bearer(sign_in_by_code(gateway, phone))
    registered = gateway.post(
        "/api/v1/residents",
        headers=mine,
        json={"name": "孙晓雯", "phone": phone, "consent": {"version": "2026-11", "channel": "app"}},
    )
    assert registered.status_code == 201, registered.text
    resident = registered.json()
    assert me(gateway, mine)["resident_id"] == resident["id"]

    # She phones the call center: the operator finds her by her number, or by its last digits.
    by_phone = gateway.get("/api/v1/residents", headers=operator, params={"phone": phone}).json()
    assert [(r["id"], r["name"]) for r in by_phone["items"]] == [(resident["id"], "孙晓雯")]
    by_suffix = gateway.get("/api/v1/residents", headers=operator, params={"phone_suffix": phone[-4:]}).json()
    assert resident["id"] in [r["id"] for r in by_suffix["items"]]
    twice = gateway.post(
        "/api/v1/residents",
        headers=operator,
        json={"name": "孙晓雯", "phone": phone, "consent": PHONE_CONSENT},
    )
    assert (twice.status_code, twice.json()["code"]) == (409, "phone_taken")
    # Signing in again is the same record.
    assert me(gateway, bearer(sign_in_by_code(gateway, phone)))["resident_id"] == resident["id"]


def test_nobody_takes_a_phone_they_did_not_prove(gateway: httpx.Client) -> None:
    operator = login(gateway, "operator")
    squatter_phone, victim_phone = new_phone(), new_phone()
    squatter = bearer(sign_in_by_code(gateway, squatter_phone))
    body = {"name": "冒名者", "consent": {"version": "2026-11", "channel": "app"}}

    # Registering with someone else's phone is refused, and nothing is made.
    squat = gateway.post("/api/v1/residents", headers=squatter, json={**body, "phone": victim_phone})
    assert squat.status_code == 403, squat.text
    assert squat.headers["content-type"] == "application/problem+json"
    assert squat.json()["code"] == "phone_not_verified"
    # Registered with their own, moving to someone else's is refused too: without a proof, or with a code they
    # cannot have.
    own = gateway.post("/api/v1/residents", headers=squatter, json={**body, "phone": squatter_phone})
    assert own.status_code == 201, own.text
    moved = gateway.patch(f"/api/v1/residents/{own.json()['id']}", headers=squatter, json={"phone": victim_phone})
    assert (moved.status_code, moved.json()["code"]) == (403, "phone_not_verified")
    guessed = gateway.post("/api/v1/auth/otp/proof", headers=squatter, json={"phone": victim_phone, "code": "000000"})
    assert (guessed.status_code, guessed.json()["code"]) == (401, "invalid_code")
    assert (
        gateway.get(f"/api/v1/residents/{own.json()['id']}", headers=squatter).json()["phone"] == "+86" + squatter_phone
    )

    # The call center's lookup of the victim's number finds no squatter, and the owner registers it.
    assert gateway.get("/api/v1/residents", headers=operator, params={"phone": victim_phone}).json()["items"] == []
    owner = bearer(sign_in_by_code(gateway, victim_phone))
    registered = gateway.post(
        "/api/v1/residents",
        headers=owner,
        json={"name": "李建国", "phone": victim_phone, "consent": {"version": "2026-11", "channel": "app"}},
    )
    assert registered.status_code == 201, registered.text

    # A resident moves to a phone they proved: a code to the new phone, its proof, then the change.
    moved_to = new_phone()
    proof = gateway.post(
        "/api/v1/auth/otp/proof", headers=owner, json={"phone": moved_to, "code": code_for(gateway, moved_to)}
    )
    assert proof.status_code == 200, proof.text
    changed = gateway.patch(
        f"/api/v1/residents/{registered.json()['id']}",
        headers=owner,
        json={"phone": moved_to, "phone_proof": proof.json()["phone_proof"]},
    )
    assert changed.status_code == 200, changed.text
    found = gateway.get("/api/v1/residents", headers=operator, params={"phone": moved_to}).json()
    assert [(r["id"], r["name"]) for r in found["items"]] == [(registered.json()["id"], "李建国")]
    # The squatter cannot use that proof: it is the owner's.
    stolen = gateway.patch(
        f"/api/v1/residents/{own.json()['id']}",
        headers=squatter,
        json={"phone": moved_to, "phone_proof": proof.json()["phone_proof"]},
    )
    assert (stolen.status_code, stolen.json()["code"]) == (403, "phone_proof_invalid")
    # The owner's new sign-in is by the new phone, and reaches the record.
    assert me(gateway, bearer(sign_in_by_code(gateway, moved_to)))["resident_id"] == registered.json()["id"]


@pytest.mark.parametrize(("phone", "e164"), [("+1 212 555 0142", "+12125550142"), ("010 6552 9999", "+861065529999")])
def test_a_landline_or_a_number_abroad_gets_no_code(gateway: httpx.Client, phone: str, e164: str) -> None:
    response = gateway.post("/api/v1/auth/otp", json={"phone": phone})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "not_a_mobile_number"
    assert [error["field"] for error in problem["errors"]] == ["phone"]
    assert otp_messages(gateway, e164) == []
    verify = gateway.post("/api/v1/auth/otp/verify", json={"phone": phone, "code": "123456"})
    assert (verify.status_code, verify.json()["code"]) == (422, "not_a_mobile_number")
