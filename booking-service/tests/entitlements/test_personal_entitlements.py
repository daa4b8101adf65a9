"""A funding programme gives each eligible person so much per period (22 meals a month, 4 home-care hours a week):
beyond it a booking is priced at the offering's own price and says why, a cancellation gives the unit back, and
racing bookings never give one person more than the programme states."""

import asyncio
import uuid
from typing import Any

from sqlalchemy import select

from booking.entitlements.models import EntitlementUsage

BOOKINGS = "/api/v1/bookings"


async def quote(world: Any, offering: Any, resident: dict[str, Any], **params: Any) -> Any:
    query = {
        "offering_id": str(offering.offering_id),
        "resident_id": resident["id"],
        "date": world.tomorrow().isoformat(),
    }
    return await world.client.get(
        f"{BOOKINGS}/quote", params={**query, **params}, headers=world.keys.headers("operator")
    )


async def test_her_monthly_meals_are_subsidised_then_the_next_is_full_price_and_says_why(world: Any) -> None:
    lunch, contract = await world.lunch_programme(units=3)
    elder = await world.resident(tags=["age_80_plus"])
    before = (await quote(world, lunch, elder)).json()
    assert (before["resident_price_fen"], before["subsidy_fen"], before["price_note"]) == (300, 1200, None)
    assert (before["entitlement"]["units_per_period"], before["entitlement"]["left"]) == (3, 3)

    made = [(await world.book(lunch, elder, world.at(world.tomorrow(), hour))).json() for hour in (9, 10, 11, 12)]
    assert [(b["price_fen"], b["subsidy_fen"]) for b in made] == [(300, 1200)] * 3 + [(1500, 0)]
    told = "本月补贴已用完（每月3次，已用3次），本次不享受补贴，按原价15元收费。"
    assert [b["price_note"] for b in made] == [None, None, None, told]
    after = (await quote(world, lunch, elder)).json()
    assert (after["resident_price_fen"], after["entitlement"]["left"], after["price_note"]) == (1500, 0, told)

    # A cancelled subsidised lunch gives her unit back; her card shows it.
    operator = world.keys.headers("operator")
    cancelled = await world.client.post(f"{BOOKINGS}/{made[0]['id']}/cancel", json={"reason": "住院"}, headers=operator)
    assert cancelled.status_code == 200, cancelled.text
    card = await world.client.get(
        f"/api/v1/residents/{elder['id']}/entitlements", headers=world.resident_headers(elder)
    )
    assert card.status_code == 200, card.text
    [meals] = [e for e in card.json()["entitlements"] if e["offering_id"] == str(lunch.offering_id)]
    assert (meals["contract_id"], meals["used"], meals["left"], meals["period"]) == (
        str(contract.contract_id),
        2,
        1,
        "month",
    )
    assert meals["period_start"] == world.tomorrow().replace(day=1).isoformat()
    again = (await world.book(lunch, elder, world.at(world.tomorrow(), 13))).json()
    assert (again["price_fen"], again["price_note"]) == (300, None)


async def test_home_care_hours_are_counted_by_the_hour_per_week(world: Any) -> None:
    care, _ = await world.lunch_programme(units=4, period="week", unit="hour", duration_minutes=120, name_zh="居家照护")
    elder = await world.resident(tags=["age_80_plus"])
    made = [(await world.book(care, elder, world.at(world.tomorrow(), hour))).json() for hour in (8, 10, 14)]
    assert [b["subsidy_fen"] for b in made] == [1200, 1200, 0]
    assert made[2]["price_note"] == "本周补贴已用完（每周4小时，已用4小时），本次不享受补贴，按原价15元收费。"


async def test_twenty_racing_bookings_for_her_last_five_units_subsidise_exactly_five(world: Any) -> None:
    lunch, _ = await world.lunch_programme(units=7)
    elder = await world.resident(tags=["age_80_plus"])
    for hour in (2, 3):
        booked = await world.book(lunch, elder, world.at(world.tomorrow(), hour))
        assert booked.json()["subsidy_fen"] == 1200
    slots = [world.at(world.tomorrow(), hour) for hour in range(4, 24)]

    responses = await asyncio.gather(*(world.book(lunch, elder, slot) for slot in slots))

    assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses if r.status_code != 201]
    assert sorted(r.json()["subsidy_fen"] for r in responses) == [0] * 15 + [1200] * 5
    async with world.sessionmaker() as session:
        used = await session.scalar(
            select(EntitlementUsage.used).where(EntitlementUsage.resident_id == uuid.UUID(elder["id"]))
        )
    assert used == 7
    assert (await quote(world, lunch, elder)).json()["entitlement"]["left"] == 0


async def test_an_entitlement_claimed_by_someone_not_eligible_is_refused_and_books_nothing(world: Any) -> None:
    lunch, contract = await world.lunch_programme(units=22)
    younger = await world.resident(tags=["low_income"])
    slot = world.at(world.tomorrow(), 9)
    refused = await world.book(lunch, younger, slot, contract_id=str(contract.contract_id))
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["code"] == "not_eligible"
    assert [(e["field"], e["type"]) for e in problem["errors"]] == [("contract_id", "not_eligible")]
    assert "不符合本项目的补贴条件（需要：80岁以上）" in problem["errors"][0]["message"]
    assert await world.units_held(lunch, slot) == 0
    listed = await world.client.get(
        BOOKINGS, params={"resident_id": younger["id"]}, headers=world.keys.headers("operator")
    )
    assert listed.json()["total"] == 0
    quoted = await quote(world, lunch, younger, contract_id=str(contract.contract_id))
    assert (quoted.status_code, quoted.json()["code"]) == (422, "not_eligible")

    elder = await world.resident(tags=["age_80_plus"])
    other = await world.book(lunch, elder, slot, contract_id=str(uuid.uuid4()))
    assert (other.status_code, other.json()["code"]) == (422, "program_not_funding")
    claimed = await world.book(lunch, elder, slot, contract_id=str(contract.contract_id))
    assert (claimed.status_code, claimed.json()["funded_contract_id"]) == (201, str(contract.contract_id))


async def test_only_officials_state_an_entitlement_and_bad_rules_are_refused_on_their_field(world: Any) -> None:
    lunch, contract = await world.lunch_programme(units=22)
    url = f"/api/v1/entitlements/programs/{contract.contract_id}/{lunch.offering_id}"
    rule = {"units_per_period": 22, "period": "month"}
    operator = await world.client.put(url, json=rule, headers=world.keys.headers("operator"))
    assert operator.status_code == 403
    unknown = await world.client.put(
        f"/api/v1/entitlements/programs/{uuid.uuid4()}/{lunch.offering_id}",
        json=rule,
        headers=world.keys.headers("official"),
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "program_not_found")
    bad = await world.client.put(
        url, json={"units_per_period": 0, "period": "year"}, headers=world.keys.headers("official")
    )
    assert bad.status_code == 422
    assert sorted(e["field"] for e in bad.json()["errors"]) == ["period", "units_per_period"]
