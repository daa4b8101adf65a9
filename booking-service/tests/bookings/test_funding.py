from datetime import timedelta
from typing import Any

from service_kit.events.contracts import ContractTerminated, FundedOffering

BOOKINGS = "/api/v1/bookings"


async def test_an_eligible_resident_pays_the_contract_price_and_draws_quota(world: Any) -> None:
    offering = await world.offering(price_fen=3000)
    contract = world.contract_event(offering_id=offering.offering_id)
    await world.apply(contract, source="procurement")
    elder = await world.resident(tags=["age_80_plus", "living_alone"])
    response = await world.book(offering, elder, world.at(world.tomorrow(), 9))
    assert response.status_code == 201, response.text
    booking = response.json()
    assert booking["price_fen"] == 500
    assert booking["subsidy_fen"] == 2500
    assert booking["funded_contract_id"] == str(contract.contract_id)
    created = (await world.emitted(booking["id"]))[0][1]
    assert created["funded_contract_id"] == str(contract.contract_id)
    assert created["subsidy_fen"] == 2500
    assert created["price_fen"] == 500


async def test_an_ineligible_resident_pays_the_offering_price(world: Any) -> None:
    offering = await world.offering(price_fen=3000)
    await world.apply(world.contract_event(offering_id=offering.offering_id), source="procurement")
    younger = await world.resident(tags=["low_income"])
    booking = (await world.book(offering, younger, world.at(world.tomorrow(), 9))).json()
    assert (booking["price_fen"], booking["subsidy_fen"], booking["funded_contract_id"]) == (3000, 0, None)


async def test_a_program_without_tags_funds_everyone(world: Any) -> None:
    offering = await world.offering(price_fen=3000)
    open_to_all = (FundedOffering(offering_id=offering.offering_id, unit_price_fen=2800, quota=5),)
    await world.apply(world.contract_event(offering_id=offering.offering_id, funded=open_to_all), source="procurement")
    booking = (await world.book(offering, await world.resident(), world.at(world.tomorrow(), 9))).json()
    assert (booking["price_fen"], booking["subsidy_fen"]) == (0, 2800)


async def test_when_the_quota_is_used_up_bookings_go_on_at_the_normal_price(world: Any) -> None:
    offering = await world.offering(price_fen=3000, capacity_per_slot=5)
    funded = (FundedOffering(offering_id=offering.offering_id, unit_price_fen=3000, resident_price_fen=0, quota=2),)
    contract = world.contract_event(offering_id=offering.offering_id, funded=funded)
    await world.apply(contract, source="procurement")
    slot = world.at(world.tomorrow(), 9)
    prices = []
    bookings = []
    for _ in range(3):
        booking = (await world.book(offering, await world.resident(), slot)).json()
        bookings.append(booking)
        prices.append(booking["price_fen"])
    assert prices == [0, 0, 3000]

    # Cancelling a funded booking gives its quota back to the next eligible resident.
    cancel = await world.client.post(
        f"{BOOKINGS}/{bookings[0]['id']}/cancel", json={"reason": "住院"}, headers=world.keys.headers("operator")
    )
    assert cancel.status_code == 200
    again = (await world.book(offering, await world.resident(), slot)).json()
    assert again["price_fen"] == 0
    assert again["funded_contract_id"] == str(contract.contract_id)


async def test_a_terminated_or_expired_contract_funds_nothing(world: Any) -> None:
    offering = await world.offering(price_fen=3000)
    signed = world.contract_event(offering_id=offering.offering_id)
    await world.apply(signed, source="procurement")
    terminated = world.contract_event(
        ContractTerminated,
        offering_id=offering.offering_id,
        contract_id=signed.contract_id,
        provider_id=signed.provider_id,
        status="terminated",
        occurred_at=signed.occurred_at + timedelta(seconds=1),
    )
    await world.apply(terminated, source="procurement")
    elder = await world.resident(tags=["age_80_plus"])
    booking = (await world.book(offering, elder, world.at(world.tomorrow(), 9))).json()
    assert booking["price_fen"] == 3000

    other = await world.offering(price_fen=3000)
    today = world.tomorrow() - timedelta(days=1)
    ended = world.contract_event(offering_id=other.offering_id, start_date=today - timedelta(days=30), end_date=today)
    await world.apply(ended, source="procurement")
    booking = (await world.book(other, elder, world.at(world.tomorrow(), 9))).json()
    assert booking["price_fen"] == 3000, "the slot is after the contract's end date"


async def test_a_quote_tells_the_funded_price_without_drawing_quota(world: Any) -> None:
    offering = await world.offering(price_fen=3000)
    funded = (FundedOffering(offering_id=offering.offering_id, unit_price_fen=3000, resident_price_fen=500, quota=1),)
    contract = world.contract_event(offering_id=offering.offering_id, funded=funded)
    await world.apply(contract, source="procurement")
    elder, other = await world.resident(), await world.resident()
    operator = world.keys.headers("operator")

    async def quote(resident: dict[str, Any]) -> dict[str, Any]:
        response = await world.client.get(
            f"{BOOKINGS}/quote",
            params={"offering_id": str(offering.offering_id), "resident_id": resident["id"]},
            headers=operator,
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    first = await quote(elder)
    assert (first["resident_price_fen"], first["subsidy_fen"], first["funded"], first["quota_left"]) == (
        500,
        2500,
        True,
        1,
    )
    assert first["funded_contract_id"] == str(contract.contract_id)
    assert (await quote(elder))["quota_left"] == 1, "quoting draws nothing"
    booking = (await world.book(offering, elder, world.at(world.tomorrow(), 9))).json()
    assert booking["price_fen"] == first["resident_price_fen"]
    # The quota is used up: the next caller is quoted (and would pay) the offering's own price.
    after = await quote(other)
    assert (after["resident_price_fen"], after["subsidy_fen"], after["funded"]) == (3000, 0, False)


async def test_a_quote_is_only_for_a_known_resident_and_offering(world: Any) -> None:
    offering = await world.offering(price_fen=3000)
    resident = await world.resident()
    operator = world.keys.headers("operator")
    unknown = "00000000-0000-4000-8000-000000000000"
    for params, code in (
        ({"offering_id": unknown, "resident_id": resident["id"]}, "offering_not_found"),
        ({"offering_id": str(offering.offering_id), "resident_id": unknown}, "resident_not_found"),
    ):
        response = await world.client.get(f"{BOOKINGS}/quote", params=params, headers=operator)
        assert (response.status_code, response.json()["code"]) == (404, code)
    missing = await world.client.get(
        f"{BOOKINGS}/quote", params={"offering_id": str(offering.offering_id)}, headers=operator
    )
    assert (missing.status_code, missing.json()["code"]) == (422, "resident_required")
    official = await world.client.get(
        f"{BOOKINGS}/quote",
        params={"offering_id": str(offering.offering_id), "resident_id": resident["id"]},
        headers=world.keys.headers("official"),
    )
    assert official.status_code == 403
