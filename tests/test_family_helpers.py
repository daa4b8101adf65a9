"""Issue 16 through the gateway: one person, one record, and family helpers. A mother the call center registered
signs in by phone code and authorises her daughter's own account; the daughter books for her mother with her own
token; the mother sees the booking and the operator sees who made it (in the API and on the console's card);
after the mother revokes, the daughter reaches nothing of hers; a merge of a duplicate record of the mother
moves its bookings and complaints to her."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from service_kit.testing import eventually_blocking

from .conftest import (
    CHROMIUM,
    DevStack,
    bearer,
    console_page,
    free_slots,
    login,
    me,
    new_phone,
    provider_with_offering,
    registered_by_operator,
    resident_in_the_app,
    sign_in_by_code,
)

pytestmark = pytest.mark.stack


def published_offering(gateway: httpx.Client) -> str:
    """A verified provider's published lunch of its own (the stack is shared: demo offerings are other tests')."""
    provider = provider_with_offering(
        gateway, "家属代订测试助餐社", "家属代订测试午餐（仅测试用）", capacity_per_slot=20
    )
    return str(provider["offering_id"])


def register_mother(gateway: httpx.Client, operator: dict[str, str], phone: str, **extra: Any) -> dict[str, Any]:
    return registered_by_operator(
        gateway,
        operator,
        name="张桂兰",
        phone=phone,
        community_code="gongchen.shidai_jiahe",
        eligibility_tags=["age_80_plus"],
        **extra,
    )


def daughter_signs_up(gateway: httpx.Client) -> tuple[dict[str, Any], dict[str, str], str]:
    """李红 signs in to the app with her own phone and registers herself: (record, token, phone)."""
    token, registered, phone = resident_in_the_app(gateway, "李红", consent_version="2026-11")
    assert me(gateway, token)["resident_id"] == registered["id"]
    return registered, token, phone


def family(gateway: httpx.Client) -> dict[str, Any]:
    """The mother (registered by the call center, then signed in) and her authorised daughter."""
    operator = login(gateway, "operator")
    mother_phone = new_phone()
    mother = register_mother(gateway, operator, mother_phone)
    as_mother = bearer(sign_in_by_code(gateway, mother_phone))
    assert me(gateway, as_mother)["resident_id"] == mother["id"]
    daughter, as_daughter, daughter_phone = daughter_signs_up(gateway)
    granted = gateway.post(
        f"/api/v1/residents/{mother['id']}/helpers",
        headers=as_mother,
        json={"helper_phone": daughter_phone, "relation": "女儿"},
    )
    assert granted.status_code == 201, granted.text
    return {
        "operator": operator,
        "mother": mother,
        "mother_phone": mother_phone,
        "as_mother": as_mother,
        "daughter": daughter,
        "as_daughter": as_daughter,
        "grant": granted.json(),
    }


def book(
    gateway: httpx.Client, headers: dict[str, str], offering_id: str, slot: dict[str, Any], resident_id: str
) -> dict[str, Any]:
    response = gateway.post(
        "/api/v1/bookings",
        headers=headers,
        json={"offering_id": offering_id, "slot_start": slot["start"], "resident_id": resident_id},
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_a_daughter_acts_for_her_mother_until_revoked_and_a_merge_moves_everything(gateway: httpx.Client) -> None:
    f = family(gateway)
    operator, mother, daughter = f["operator"], f["mother"], f["daughter"]
    as_mother, as_daughter = f["as_mother"], f["as_daughter"]
    offering_id = published_offering(gateway)
    first, second = free_slots(gateway, offering_id, operator, 2)

    # The daughter's app finds her mother among those she helps, and books for her with her own token.
    helping = gateway.get(f"/api/v1/residents/{daughter['id']}/helping", headers=as_daughter)
    assert [(g["resident_id"], g["relation"]) for g in helping.json()] == [(mother["id"], "女儿")]
    booking = book(gateway, as_daughter, offering_id, first, mother["id"])
    assert (booking["resident_id"], booking["channel"], booking["booked_by"]["kind"]) == (mother["id"], "app", "helper")

    # The mother sees it in her app; the operator sees who booked it.
    hers = gateway.get("/api/v1/bookings", headers=as_mother).json()["items"]
    assert [b["id"] for b in hers] == [booking["id"]]
    on_card = gateway.get("/api/v1/bookings", headers=operator, params={"resident_id": mother["id"]}).json()["items"]
    [seen] = [b for b in on_card if b["id"] == booking["id"]]
    helper = seen["booked_by"]["helper"]
    assert (helper["relation"], helper["name"], helper["resident_id"]) == ("女儿", "李红", daughter["id"])
    trail = gateway.get(f"/api/v1/residents/{mother['id']}/acting-for", headers=operator).json()["items"]
    assert ("book", daughter["id"], booking["id"]) in [
        (r["action"], r["helper_resident_id"], r["booking_id"]) for r in trail
    ]

    # She complains for her mother about it, once feedback has heard of the grant and the booking.
    complaint = {
        "target_kind": "booking",
        "target_id": booking["id"],
        "category": "punctuality",
        "description": "妈妈说送餐总是晚到",
        "resident_id": mother["id"],
    }

    def filed() -> httpx.Response | None:
        response = gateway.post("/api/v1/complaints", headers=as_daughter, json=complaint)
        return response if response.status_code == 201 else None

    complained = eventually_blocking(filed).json()
    assert (complained["resident_id"], complained["helper_resident_id"]) == (mother["id"], daughter["id"])
    mine = gateway.get("/api/v1/complaints", headers=as_mother).json()["items"]
    assert complained["id"] in [c["id"] for c in mine]

    # The mother revokes: the daughter books nothing more for her, sees nothing of hers, files nothing for her.
    revoked = gateway.delete(f"/api/v1/residents/{mother['id']}/helpers/{f['grant']['id']}", headers=as_mother)
    assert revoked.status_code == 200, revoked.text
    refused = gateway.post(
        "/api/v1/bookings",
        headers=as_daughter,
        json={"offering_id": offering_id, "slot_start": second["start"], "resident_id": mother["id"]},
    )
    assert (refused.status_code, refused.json()["code"]) == (404, "resident_not_found")
    assert gateway.get("/api/v1/bookings", headers=as_daughter, params={"resident_id": mother["id"]}).status_code == 404
    assert gateway.get(f"/api/v1/bookings/{booking['id']}", headers=as_daughter).status_code == 404
    eventually_blocking(
        lambda: gateway.post("/api/v1/complaints", headers=as_daughter, json=complaint).status_code == 404
    )

    # Years ago she was registered once more, with her landline and before ID numbers were asked: an operator
    # merges that record into hers, and its booking and complaint become hers.
    duplicate = register_mother(gateway, operator, "010-6931" + f"{uuid.uuid4().int % 10**4:04d}")
    old_booking = book(gateway, operator, offering_id, second, duplicate["id"])
    old_complaint = {
        "target_kind": "booking",
        "target_id": old_booking["id"],
        "category": "service_quality",
        "description": "饭菜偏咸",
        "resident_id": duplicate["id"],
        "channel": "phone",
    }

    def filed_for_duplicate() -> httpx.Response | None:
        response = gateway.post("/api/v1/complaints", headers=operator, json=old_complaint)
        return response if response.status_code == 201 else None

    duplicate_complaint = eventually_blocking(filed_for_duplicate).json()
    # The hotline logged that call under the old record; after the merge her card's timeline shows it.
    logged = gateway.post(
        f"/api/v1/residents/{duplicate['id']}/calls",
        headers=operator,
        json={"reason": "complaint", "note": "反映饭菜偏咸，已登记投诉"},
    )
    assert logged.status_code == 201, logged.text
    itself = gateway.post(
        f"/api/v1/residents/{mother['id']}/merge", headers=operator, json={"duplicate_id": mother["id"], "reason": "x"}
    )
    assert (itself.status_code, itself.json()["code"]) == (422, "merge_into_itself")
    merged = gateway.post(
        f"/api/v1/residents/{mother['id']}/merge",
        headers=operator,
        json={"duplicate_id": duplicate["id"], "reason": "同一位老人：早年用座机登记过一次"},
    )
    assert merged.status_code == 200, merged.text
    assert (merged.json()["bookings_moved"], merged.json()["calls_moved"]) == (1, 1)
    timeline = gateway.get(f"/api/v1/residents/{mother['id']}/calls", headers=operator)
    assert timeline.status_code == 200, timeline.text
    assert [c["note"] for c in timeline.json()["items"]] == ["反映饭菜偏咸，已登记投诉"]
    gone = gateway.get(f"/api/v1/residents/{duplicate['id']}", headers=operator)
    assert (gone.status_code, gone.json()["code"], gone.json()["survivor_id"]) == (404, "resident_merged", mother["id"])
    hers = gateway.get("/api/v1/bookings", headers=as_mother).json()["items"]
    assert {booking["id"], old_booking["id"]} <= {b["id"] for b in hers}

    def complaint_moved() -> bool:
        listed = gateway.get("/api/v1/complaints", headers=as_mother).json()["items"]
        return duplicate_complaint["id"] in [c["id"] for c in listed]

    eventually_blocking(complaint_moved)
    found = gateway.get("/api/v1/residents", headers=operator, params={"phone": f["mother_phone"]}).json()
    assert [r["id"] for r in found["items"]] == [mother["id"]]


@pytest.fixture
async def page(stack: DevStack) -> AsyncIterator[Page]:
    """The console in Chromium, as tests/test_console.py drives it."""
    async with console_page(stack.gateway_url) as page:
        yield page


@pytest.mark.skipif(not CHROMIUM.exists(), reason="the console's browser tests drive Debian's /usr/bin/chromium")
async def test_the_mothers_card_shows_who_booked_each_booking(gateway: httpx.Client, page: Page) -> None:
    f = family(gateway)
    offering_id = published_offering(gateway)
    first, second = free_slots(gateway, offering_id, f["operator"], 2)
    by_daughter = book(gateway, f["as_daughter"], offering_id, first, f["mother"]["id"])
    by_operator = book(gateway, f["operator"], offering_id, second, f["mother"]["id"])

    await page.goto("/console/")
    await page.locator("#signin-username").fill("operator")
    await page.locator("#signin-password").fill("linli-demo-2026")
    await page.keyboard.press("Enter")
    await expect(page.locator("#operator-name")).to_have_text("当前坐席：话务员 小陈")
    await page.keyboard.press("F2")
    await page.keyboard.type(f["mother_phone"])
    await page.keyboard.press("Enter")
    card = page.locator("#resident-card")
    await expect(page.locator("#card-title")).to_have_text("张桂兰")
    await expect(card.locator(f"[data-booking='{by_daughter['id']}'] .booked-by")).to_have_text(
        "预约人：女儿 李红（代订）"
    )
    await expect(card.locator(f"[data-booking='{by_operator['id']}'] .booked-by")).to_have_text("预约人：话务员 小陈")
