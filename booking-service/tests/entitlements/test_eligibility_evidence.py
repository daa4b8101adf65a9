"""An eligibility tag carries its evidence (what was seen, who verified it, when) and an expiry; past it the tag no
longer makes the resident eligible, and the re-check sweep gives operators a task to check it again."""

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from booking.app import SERVICE_DIR
from booking.config import Settings
from booking.entitlements.models import EligibilityEvidence, EligibilityRecheck
from booking.entitlements.service import open_rechecks
from service_kit.testing import service_settings

BOOKINGS = "/api/v1/bookings"
RECHECKS = "/api/v1/entitlements/rechecks"

# The tests run the sweep themselves, on a clock of their own; the worker's sweep, on the real clock, would open
# the same re-checks whenever a busy machine let its first pass run after a test's evidence was recorded.
settings = service_settings(Settings, SERVICE_DIR, run_background_jobs=False)


async def funded_lunch(world: Any) -> Any:
    """A 30 元 lunch that the district's default test contract funds for residents of 80 and over (they pay 5 元)."""
    lunch = await world.offering(price_fen=3000, capacity_per_slot=10)
    await world.apply(world.contract_event(offering_id=lunch.offering_id), source="procurement")
    return lunch


async def evidence(
    world: Any, resident: dict[str, Any], tag: str, headers: dict[str, str] | None = None, **body: Any
) -> Any:
    return await world.client.put(
        f"/api/v1/residents/{resident['id']}/eligibility/{tag}",
        json={"evidence_type": "id_card", "verified_on": "2026-01-05", **body},
        headers=headers or world.keys.headers("operator", name="话务员 王芳", sub="operator-wangfang"),
    )


async def test_evidence_is_recorded_with_who_verified_it_and_shown_on_her_card(world: Any) -> None:
    elder = await world.resident()
    expires = world.tomorrow() + timedelta(days=365)
    recorded = await evidence(world, elder, "age_80_plus", expires_on=expires.isoformat())
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["eligibility"] == [
        {
            "tag": "age_80_plus",
            "evidence_type": "id_card",
            "verified_by": "operator-wangfang",
            "verified_by_name": "话务员 王芳",
            "verified_on": "2026-01-05",
            "expires_on": expires.isoformat(),
            "status": "valid",
        }
    ]
    card = await world.client.get(f"/api/v1/residents/{elder['id']}", headers=world.keys.headers("operator"))
    assert card.json()["eligibility_tags"] == ["age_80_plus"]

    # A resident cannot vouch for herself; a bad date or type is refused on its field; an unknown tag is 422.
    own = await evidence(world, elder, "low_income", headers=world.resident_headers(elder))
    assert own.status_code == 403
    bad = await evidence(world, elder, "low_income", evidence_type="hearsay", expires_on="2025-01-01")
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["evidence_type"]
    backwards = await evidence(world, elder, "low_income", expires_on="2025-01-01")
    assert (backwards.status_code, backwards.json()["errors"][0]["field"]) == (422, "expires_on")
    assert (await evidence(world, elder, "rich")).status_code == 422
    assert (await world.client.get(f"/api/v1/residents/{elder['id']}", headers=world.keys.headers("operator"))).json()[
        "eligibility_tags"
    ] == ["age_80_plus"]


async def test_expired_evidence_prices_at_full_and_a_recheck_renews_it(world: Any) -> None:
    lunch = await funded_lunch(world)
    elder = await world.resident(tags=["age_80_plus"])
    today = world.tomorrow() - timedelta(days=1)
    assert (await evidence(world, elder, "age_80_plus", expires_on=today.isoformat())).status_code == 200

    booked = (await world.book(lunch, elder, world.at(world.tomorrow(), 9))).json()
    assert (booked["price_fen"], booked["subsidy_fen"]) == (3000, 0)
    assert booked["price_note"] == f"“80岁以上”资格证明已于{today.month}月{today.day}日到期，待复核，本次按原价收费。"

    # The sweep opens one task for that expiry, however often it runs.
    now = datetime.combine(today, time(2), tzinfo=UTC)
    assert await open_rechecks(world.sessionmaker, now=now, lead_days=30, batch=100) >= 1
    assert await open_rechecks(world.sessionmaker, now=now, lead_days=30, batch=100) == 0
    operator = world.keys.headers("operator")
    listed = await world.client.get(RECHECKS, headers=operator, params={"limit": 100})
    [task] = [r for r in listed.json()["items"] if r["resident_id"] == elder["id"]]
    assert (task["tag"], task["expires_on"], task["closed_at"]) == ("age_80_plus", today.isoformat(), None)
    assert (await world.client.get(RECHECKS, headers=world.resident_headers(elder))).status_code == 403

    no_evidence = await world.client.post(
        f"{RECHECKS}/{task['id']}/close", json={"outcome": "renewed", "note": "已电话核实"}, headers=operator
    )
    assert (no_evidence.status_code, no_evidence.json()["errors"][0]["field"]) == (422, "evidence")
    renewed_until = (today + timedelta(days=365)).isoformat()
    closed = await world.client.post(
        f"{RECHECKS}/{task['id']}/close",
        json={
            "outcome": "renewed",
            "evidence": {
                "evidence_type": "household_register",
                "verified_on": today.isoformat(),
                "expires_on": renewed_until,
            },
            "note": "入户核实户口簿",
        },
        headers=operator,
    )
    assert closed.status_code == 200, closed.text
    assert (closed.json()["outcome"], closed.json()["note"]) == ("renewed", "入户核实户口簿")
    twice = await world.client.post(
        f"{RECHECKS}/{task['id']}/close", json={"outcome": "removed", "note": "重复"}, headers=operator
    )
    assert (twice.status_code, twice.json()["code"]) == (409, "recheck_already_closed")
    still_open = await world.client.get(RECHECKS, headers=operator, params={"limit": 100})
    assert task["id"] not in [r["id"] for r in still_open.json()["items"]]

    again = (await world.book(lunch, elder, world.at(world.tomorrow(), 10))).json()
    assert (again["price_fen"], again["subsidy_fen"], again["price_note"]) == (500, 2500, None)


async def test_a_recheck_that_removes_the_tag_ends_the_subsidy(world: Any) -> None:
    lunch = await funded_lunch(world)
    elder = await world.resident(tags=["age_80_plus"])
    soon = world.tomorrow() + timedelta(days=10)
    assert (await evidence(world, elder, "age_80_plus", expires_on=soon.isoformat())).status_code == 200
    card = await world.client.get(
        f"/api/v1/residents/{elder['id']}/entitlements", headers=world.keys.headers("operator")
    )
    assert card.json()["eligibility"][0]["status"] == "expiring"
    now = datetime.combine(world.tomorrow(), time(2), tzinfo=UTC)
    assert await open_rechecks(world.sessionmaker, now=now, lead_days=5, batch=100) == 0
    assert await open_rechecks(world.sessionmaker, now=now, lead_days=30, batch=100) == 1
    operator = world.keys.headers("operator")
    listed = await world.client.get(RECHECKS, headers=operator, params={"limit": 100})
    [task] = [r for r in listed.json()["items"] if r["resident_id"] == elder["id"]]
    closed = await world.client.post(
        f"{RECHECKS}/{task['id']}/close", json={"outcome": "removed", "note": "年龄核实有误"}, headers=operator
    )
    assert closed.status_code == 200, closed.text
    shown = await world.client.get(f"/api/v1/residents/{elder['id']}", headers=operator)
    assert shown.json()["eligibility_tags"] == []
    booked = (await world.book(lunch, elder, world.at(world.tomorrow(), 9))).json()
    assert (booked["price_fen"], booked["subsidy_fen"]) == (3000, 0)


async def test_an_erased_resident_leaves_no_evidence_or_recheck_behind(world: Any) -> None:
    elder = await world.resident(tags=["age_80_plus"])
    expires = world.tomorrow().isoformat()
    assert (await evidence(world, elder, "age_80_plus", expires_on=expires)).status_code == 200
    now = datetime.combine(world.tomorrow(), time(2), tzinfo=UTC)
    assert await open_rechecks(world.sessionmaker, now=now, lead_days=30, batch=100) == 1
    operator = world.keys.headers("operator")
    assert (await world.client.delete(f"/api/v1/residents/{elder['id']}", headers=operator)).status_code == 204
    async with world.sessionmaker() as session:
        left = [
            await session.scalar(
                select(func.count()).select_from(table).where(table.resident_id == uuid.UUID(elder["id"]))
            )
            for table in (EligibilityEvidence, EligibilityRecheck)
        ]
    assert left == [0, 0]
    listed = await world.client.get(RECHECKS, headers=operator, params={"limit": 100})
    assert elder["id"] not in [r["resident_id"] for r in listed.json()["items"]]
