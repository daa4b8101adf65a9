"""A contract's funding ends: its residents' upcoming bookings keep their price and are listed for operators with
equivalent funded services near home; a sanction alone ends nothing. Events go through NATS JetStream and the
booking's own consumer."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from booking.catalog.consumers import subscription as catalog_subscription
from service_kit.events.consumer import apply_event
from service_kit.events.contracts import (
    ContractAmended,
    ContractTerminated,
    FundedOffering,
    OfferingSnapshot,
    ProviderSanctioned,
)
from service_kit.events.envelope import Envelope
from service_kit.testing import eventually

REPLACEMENTS = "/api/v1/bookings/replacements"
HOME = (39.7350, 116.1400)  # 长阳镇, a resident's home
# About 111 m of latitude per 0.001 degree.
NEAR, FARTHER, OUT_OF_CIRCLE = 0.0027, 0.0081, 0.0270  # ≈ 300 m, 900 m, 3 km north of home


def funds(offering: OfferingSnapshot, *, tags: tuple[str, ...] = ("age_80_plus",), quota: int = 10) -> FundedOffering:
    return FundedOffering(
        offering_id=offering.offering_id,
        unit_price_fen=3000,
        resident_price_fen=500,
        quota=quota,
        eligibility_tags=tags,
    )


async def place(world: Any, *, north: float, name: str, category: str = "elderly.meal_table", **extra: Any) -> Any:
    return await world.offering(
        name_zh=name,
        category_code=category,
        latitude=HOME[0] + north,
        longitude=HOME[1],
        capacity_per_slot=10,
        **extra,
    )


async def funded(world: Any, offering: Any, **extra: Any) -> Any:
    event = world.contract_event(offering_id=offering.offering_id, provider_id=offering.provider_id, **extra)
    await world.apply(event, source="procurement")
    return event


async def elder(world: Any, tags: list[str] | None = None) -> dict[str, Any]:
    position = {"latitude": HOME[0], "longitude": HOME[1]}
    resident: dict[str, Any] = await world.resident(
        name="张桂兰", tags=["age_80_plus"] if tags is None else tags, position=position
    )
    return resident


def terminated(contract: Any) -> ContractTerminated:
    values = contract.model_dump()
    values.update(status="terminated", occurred_at=datetime.now(UTC), reason="服务质量严重不合格，合同解除")
    return ContractTerminated(**values)


async def neighbourhood(world: Any) -> dict[str, Any]:
    """The elder's meal table and what else lies around: funded or not, near or far, other categories."""
    old = await place(world, north=0.0005, name="长阳老年餐桌")
    near = await place(world, north=NEAR, name="碧桂园社区老年餐桌")
    farther = await place(world, north=FARTHER, name="长阳镇中心老年餐桌")
    out_of_circle = await place(world, north=OUT_OF_CIRCLE, name="良乡老年餐桌")
    other_category = await place(world, north=NEAR, name="上门保洁", category="elderly.housekeeping")
    not_eligible = await place(world, north=NEAR, name="低保助餐点")
    await place(world, north=NEAR, name="自费餐厅")  # same category, funded by nobody
    contracts = {"old": await funded(world, old)}
    for key, offering in (("near", near), ("farther", farther), ("out", out_of_circle), ("other", other_category)):
        contracts[key] = await funded(world, offering)
    await funded(world, not_eligible, funded=(funds(not_eligible, tags=("low_income",)),))
    return {"old": old, "near": near, "farther": farther, "contracts": contracts}


async def test_a_terminated_contracts_resident_keeps_the_price_and_is_offered_the_nearest_alternatives(
    world: Any,
) -> None:
    places = await neighbourhood(world)
    resident = await elder(world)
    payer = await elder(world, tags=[])  # pays full price: the contract never funded them
    booked = await world.book(places["old"], resident, world.at(world.tomorrow(), 9))
    assert (booked.json()["price_fen"], booked.json()["subsidy_fen"]) == (500, 2500), booked.text
    unfunded = await world.book(places["old"], payer, world.at(world.tomorrow(), 9))
    assert unfunded.json()["price_fen"] == 3000

    # The termination arrives over JetStream, is redelivered, and a second termination event says it again.
    ended = terminated(places["contracts"]["old"])
    envelope = Envelope.wrap(ended, source="procurement")
    await world.publish(ended, source="procurement")
    handler = catalog_subscription.handler_for(ended.type)
    assert handler is not None
    await apply_event(world.sessionmaker, "catalog", handler, envelope)
    await apply_event(world.sessionmaker, "catalog", handler, envelope)
    await world.publish(terminated(places["contracts"]["old"]), source="procurement")

    listed = await eventually(lambda: world.open_replacements())
    assert len(listed) == 1
    entry = listed[0]
    # Procurement is told once which bookings keep the ended contract's subsidy: the contract still owes them.
    contract_id = str(places["contracts"]["old"].contract_id)
    reports = [data for kind, data in await world.emitted(contract_id) if kind == "linli.contract.funding_kept.v1"]
    assert [(r["cause"], [(b["booking_id"], b["subsidy_fen"]) for b in r["bookings"]]) for r in reports] == [
        ("terminated", [(booked.json()["id"], 2500)])
    ]
    assert (entry["status"], entry["cause"], entry["contract_id"]) == (
        "open",
        "terminated",
        str(places["contracts"]["old"].contract_id),
    )
    assert entry["resident"]["name"] == "张桂兰"
    # The booking keeps the price the resident was told, and its subsidy.
    assert entry["booking"]["id"] == booked.json()["id"]
    assert (entry["booking"]["price_fen"], entry["booking"]["subsidy_fen"]) == (500, 2500)
    assert entry["booking"]["offering_name"] == "长阳老年餐桌"
    # Same category, another contract, eligible, in the circle: nearest first.
    suggested = [(a["name_zh"], a["funded_contract_id"], a["resident_price_fen"]) for a in entry["alternatives"]]
    assert suggested == [
        ("碧桂园社区老年餐桌", str(places["contracts"]["near"].contract_id), 500),
        ("长阳镇中心老年餐桌", str(places["contracts"]["farther"].contract_id), 500),
    ]
    distances = [a["distance_m"] for a in entry["alternatives"]]
    assert 250 < distances[0] < 350, distances
    assert 850 < distances[1] < 950, distances

    kept = await world.client.get(f"/api/v1/bookings/{booked.json()['id']}", headers=world.keys.headers("operator"))
    assert (kept.json()["status"], kept.json()["price_fen"], kept.json()["subsidy_fen"]) in {
        ("requested", 500, 2500),
        ("confirmed", 500, 2500),
    }

    # The operator books the nearest alternative and closes the entry: the old booking is cancelled.
    new = await world.book(places["near"], resident, world.at(world.tomorrow(), 9))
    assert (new.status_code, new.json()["price_fen"]) == (201, 500), new.text
    handled = await world.client.post(
        f"{REPLACEMENTS}/{entry['id']}/handle",
        json={"outcome": "rebooked", "booking_id": new.json()["id"], "note": "同意改到碧桂园"},
        headers=world.keys.headers("operator"),
    )
    assert handled.status_code == 200, handled.text
    assert (handled.json()["status"], handled.json()["replacement_booking_id"]) == ("rebooked", new.json()["id"])
    old = await world.client.get(f"/api/v1/bookings/{booked.json()['id']}", headers=world.keys.headers("operator"))
    assert old.json()["status"] == "cancelled"
    assert await world.open_replacements() == []
    again = await world.client.post(
        f"{REPLACEMENTS}/{entry['id']}/handle", json={"outcome": "declined"}, headers=world.keys.headers("operator")
    )
    assert (again.status_code, again.json()["code"]) == (409, "replacement_already_handled")
    audit = await world.client.get(
        f"/api/v1/residents/{resident['id']}/acting-for", headers=world.keys.headers("operator")
    )
    assert "replacement_rebooked" in [record["action"] for record in audit.json()["items"]]
    handled_list = await world.client.get(
        REPLACEMENTS, params={"status": "rebooked"}, headers=world.keys.headers("official")
    )
    assert [item["id"] for item in handled_list.json()["items"]] == [entry["id"]]


async def test_bad_closes_are_refused_with_their_field_and_change_nothing(world: Any) -> None:
    old = await place(world, north=0.0005, name="长阳老年餐桌")
    contract = await funded(world, old)
    resident, other = await elder(world), await elder(world)
    booked = await world.book(old, resident, world.at(world.tomorrow(), 9))
    others = await world.book(old, other, world.at(world.tomorrow(), 10))
    await world.apply(terminated(contract), source="procurement")
    entry = next(e for e in await world.open_replacements() if e["booking"]["id"] == booked.json()["id"])
    url = f"{REPLACEMENTS}/{entry['id']}/handle"
    operator = world.keys.headers("operator")

    async def refused(body: dict[str, Any], code: str, field: str) -> None:
        response = await world.client.post(url, json=body, headers=operator)
        assert (response.status_code, response.json()["code"]) == (422, code), response.text
        assert field in [error["field"] for error in response.json()["errors"]]

    await refused({"outcome": "rebooked"}, "booking_id_required", "booking_id")
    await refused(
        {"outcome": "rebooked", "booking_id": str(uuid.uuid4())}, "replacement_booking_not_found", "booking_id"
    )
    await refused(
        {"outcome": "rebooked", "booking_id": others.json()["id"]}, "replacement_booking_not_found", "booking_id"
    )
    await refused(
        {"outcome": "rebooked", "booking_id": booked.json()["id"]}, "replacement_booking_invalid", "booking_id"
    )
    await refused({"outcome": "declined", "booking_id": booked.json()["id"]}, "booking_id_not_expected", "booking_id")
    await refused({"outcome": "maybe"}, "validation_error", "outcome")
    await refused({"outcome": "declined", "extra": 1}, "validation_error", "extra")
    unknown = await world.client.post(
        f"{REPLACEMENTS}/{uuid.uuid4()}/handle", json={"outcome": "declined"}, headers=operator
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "replacement_not_found")
    for role in ("resident", "provider_admin"):
        forbidden = await world.client.get(REPLACEMENTS, headers=world.keys.headers(role))
        assert forbidden.status_code == 403
    assert [e["status"] for e in await world.open_replacements() if e["id"] == entry["id"]] == ["open"]


async def test_two_operators_closing_at_once_close_it_once(world: Any) -> None:
    old = await place(world, north=0.0005, name="长阳老年餐桌")
    contract = await funded(world, old)
    resident = await elder(world)
    booked = await world.book(old, resident, world.at(world.tomorrow(), 9))
    await world.apply(terminated(contract), source="procurement")
    entry = (await world.open_replacements())[0]
    assert entry["booking"]["id"] == booked.json()["id"]
    answers = await asyncio.gather(
        *(
            world.client.post(
                f"{REPLACEMENTS}/{entry['id']}/handle",
                json={"outcome": "declined", "note": "老人不愿更换"},
                headers=world.keys.headers("operator"),
            )
            for _ in range(4)
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409]
    kept = await world.client.get(f"/api/v1/bookings/{booked.json()['id']}", headers=world.keys.headers("operator"))
    assert kept.json()["status"] in ("requested", "confirmed")
    assert kept.json()["price_fen"] == 500


async def test_an_amendment_that_drops_an_offering_lists_only_its_residents(world: Any) -> None:
    kept_offering = await place(world, north=0.0005, name="长阳老年餐桌")
    dropped = await place(world, north=0.0006, name="长阳助浴")
    contract = await funded(world, kept_offering, funded=(funds(kept_offering), funds(dropped)))
    resident = await elder(world)
    stays = await world.book(kept_offering, resident, world.at(world.tomorrow(), 9))
    loses = await world.book(dropped, resident, world.at(world.tomorrow(), 10))
    assert stays.json()["subsidy_fen"] == loses.json()["subsidy_fen"] == 2500
    amended = ContractAmended(
        **{
            **contract.model_dump(),
            "funded_offerings": (funds(kept_offering),),
            "occurred_at": datetime.now(UTC),
        }
    )
    await world.apply(amended, source="procurement")
    assert [(e["booking"]["id"], e["cause"]) for e in await world.open_replacements()] == [
        (loses.json()["id"], "amended")
    ]
    # The contract still owes the booking of the offering it stopped funding; the other it funds as before.
    reports = [data for kind, data in await world.emitted(str(contract.contract_id)) if "funding_kept" in kind]
    assert [[b["booking_id"] for b in r["bookings"]] for r in reports] == [[loses.json()["id"]]]
    assert reports[0]["cause"] == "amended"


async def test_a_sanction_keeps_every_existing_contract_funding_its_residents(world: Any) -> None:
    """A sanction bars new awards (procurement); booking keeps the provider's contracts funding, new bookings
    included, and lists nobody for replacement."""
    meals = await place(world, north=0.0005, name="长阳老年餐桌")
    bath = await place(world, north=0.0006, name="长阳助浴", provider_id=meals.provider_id)
    await funded(world, meals)
    await funded(world, bath)  # the provider's other contract
    resident = await elder(world)
    before = await world.book(meals, resident, world.at(world.tomorrow(), 9))
    sanction = ProviderSanctioned(
        provider_id=meals.provider_id,
        sanction_id=uuid.uuid4(),
        measure="excluded_from_calls",
        reason="验收不合格",
        occurred_at=datetime.now(UTC),
    )
    envelope = await world.publish(sanction, source="procurement")

    async def recorded() -> bool:
        from booking.catalog import repository

        async with world.sessionmaker() as session:
            return await repository.is_sanctioned(session, meals.provider_id)

    assert await eventually(recorded)
    assert envelope.type == "linli.provider.sanctioned.v1"
    after = await world.book(bath, resident, world.at(world.tomorrow(), 10))
    assert (after.status_code, after.json()["price_fen"], after.json()["subsidy_fen"]) == (201, 500, 2500), after.text
    quote = await world.client.get(
        "/api/v1/bookings/quote",
        params={"offering_id": str(meals.offering_id), "resident_id": resident["id"]},
        headers=world.keys.headers("operator"),
    )
    assert (quote.json()["funded"], quote.json()["resident_price_fen"]) == (True, 500)
    kept = await world.client.get(f"/api/v1/bookings/{before.json()['id']}", headers=world.keys.headers("operator"))
    assert kept.json()["subsidy_fen"] == 2500
    assert await world.open_replacements() == []
