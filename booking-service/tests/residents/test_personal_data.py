"""Residents' personal data: ID numbers protected at rest, addresses with positions, emergency contacts,
consent, lookups by operators (each recorded as acting for the resident)."""

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from booking.residents.models import Resident

# The registry has announced the gazetteer's communities: registrations name them.
pytestmark = pytest.mark.usefixtures("gazetteer")

RESIDENTS = "/api/v1/residents"
FANGSHAN_1938 = "11011119380315004X"


def body(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "张淑珍",
        "phone": f"139{uuid.uuid4().int % 10**8:08d}",
        "community_code": "gongchen.shidai_jiahe",
        "eligibility_tags": ["age_80_plus"],
        "id_card_number": FANGSHAN_1938.lower(),
        "address": "北京市房山区长阳镇长政南街8号院3号楼2单元101",
        "position": {"latitude": 39.7633, "longitude": 116.2128},
        "emergency_contact": {"name": "张伟", "phone": "13611112222", "relation": "儿子"},
        "consent": {"purpose": "community_services_booking", "version": "2026-11", "channel": "phone"},
    }
    values.update(overrides)
    return values


async def register(world: Any, **overrides: Any) -> Any:
    return await world.client.post(RESIDENTS, json=body(**overrides), headers=world.keys.headers("operator"))


async def stored(world: Any, resident_id: str) -> Resident:
    async with world.sessionmaker() as session:
        row = await session.scalar(select(Resident).where(Resident.id == uuid.UUID(resident_id)))
        assert row is not None
        return row


async def test_an_operator_registers_a_caller_with_an_id_number_shown_masked_and_stored_encrypted(world: Any) -> None:
    response = await register(world)
    assert response.status_code == 201, response.text
    resident = response.json()
    assert resident["id_card_number"] == "1101**********004X"
    assert resident["birth_date"] == "1938-03-15"
    assert resident["address"].startswith("北京市房山区")
    assert resident["position"] == {"latitude": 39.7633, "longitude": 116.2128}
    assert resident["emergency_contact"] == {"name": "张伟", "phone": "+8613611112222", "relation": "儿子"}
    assert resident["consent"]["purpose"] == "community_services_booking"
    assert resident["consent"]["channel"] == "phone"

    row = await stored(world, resident["id"])
    assert row.id_card_encrypted is not None
    assert row.id_card_encrypted.startswith("v2:")
    assert FANGSHAN_1938 not in row.id_card_encrypted
    assert row.id_card_index is not None
    assert FANGSHAN_1938 not in row.id_card_index

    # The same ID number cannot belong to a second resident.
    again = await register(world)
    assert again.status_code == 409
    assert again.json()["code"] == "id_card_taken"


async def test_a_bad_id_number_or_position_is_a_422(world: Any) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"id_card_number": "110111193803150043"}, "invalid_id_card"),
        ({"id_card_number": "1101111938"}, "invalid_id_card"),
        ({"id_card_number": "x" * 33}, "validation_error"),
        ({"birth_date": "1940-01-01"}, "birth_date_mismatch"),
        ({"birth_date": "1700-01-01", "id_card_number": None}, "validation_error"),
        ({"position": {"latitude": 91, "longitude": 116}}, "validation_error"),
        ({"position": {"latitude": 39.7, "longitude": -181}}, "validation_error"),
        ({"position": {"latitude": 39.7}}, "validation_error"),
        ({"position": {"latitude": "north", "longitude": 116}}, "validation_error"),
        ({"position": {"latitude": 39.7, "longitude": 116, "altitude": 50}}, "validation_error"),
        ({"emergency_contact": {"name": "张伟", "phone": "12345"}}, "invalid_phone"),
        ({"emergency_contact": {"name": "", "phone": "13611112222"}}, "validation_error"),
        ({"consent": {"purpose": "x" * 101, "version": "1", "channel": "phone"}}, "validation_error"),
        ({"address": "址" * 201}, "validation_error"),
    ]
    for overrides, code in cases:
        response = await register(world, **overrides)
        assert response.status_code == 422, (overrides, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == code, overrides


async def test_an_operator_finds_callers_by_the_last_digits_and_by_id_number(world: Any) -> None:
    first = (await register(world, phone="13912345678")).json()
    second = (await register(world, phone="13812345678", id_card_number=None)).json()
    (await register(world, phone="13700001111", id_card_number=None)).json()
    operator = world.keys.headers("operator", sub="operator-li", name="李话务员")

    found = await world.client.get(RESIDENTS, params={"phone_suffix": "5678"}, headers=operator)
    assert found.status_code == 200, found.text
    assert {r["id"] for r in found.json()["items"]} == {first["id"], second["id"]}
    assert found.json()["total"] == 2
    narrower = await world.client.get(RESIDENTS, params={"phone_suffix": "912345678"}, headers=operator)
    assert [r["id"] for r in narrower.json()["items"]] == [first["id"]]
    paged = await world.client.get(RESIDENTS, params={"phone_suffix": "5678", "limit": 1}, headers=operator)
    assert (len(paged.json()["items"]), paged.json()["total"]) == (1, 2)

    by_id = await world.client.get(RESIDENTS, params={"id_card_number": FANGSHAN_1938.lower()}, headers=operator)
    assert [r["id"] for r in by_id.json()["items"]] == [first["id"]]
    exact = await world.client.get(RESIDENTS, params={"phone": "13912345678"}, headers=operator)
    assert [r["id"] for r in exact.json()["items"]] == [first["id"]]

    for params in (
        {"phone_suffix": "567"},
        {"phone_suffix": "56a8"},
        {"phone_suffix": "1" * 12},
        {"id_card_number": "123"},
        {},
        {"phone": "13912345678", "phone_suffix": "5678"},
    ):
        response = await world.client.get(RESIDENTS, params=params, headers=operator)
        assert response.status_code == 422, params
    resident = world.keys.headers("resident", resident_id=first["id"])
    assert (await world.client.get(RESIDENTS, params={"phone_suffix": "5678"}, headers=resident)).status_code == 403

    # Each lookup is on the record as this operator acting for the residents found.
    trail = await world.client.get(f"{RESIDENTS}/{first['id']}/acting-for", headers=operator)
    assert trail.status_code == 200
    lookups = [r for r in trail.json()["items"] if r["action"] == "lookup"]
    assert len(lookups) == 5
    assert {(r["operator_subject"], r["operator_name"]) for r in lookups} == {("operator-li", "李话务员")}


async def test_everything_an_operator_does_is_recorded_as_acting_for_the_resident(world: Any) -> None:
    offering = await world.offering()
    operator = world.keys.headers("operator", sub="operator-wang")
    resident = (await world.client.post(RESIDENTS, json=body(), headers=operator)).json()
    await world.client.get(f"{RESIDENTS}/{resident['id']}", headers=operator)
    await world.client.patch(f"{RESIDENTS}/{resident['id']}", json={"address": "长阳镇9号"}, headers=operator)
    booking = (
        await world.client.post(
            "/api/v1/bookings",
            json=world.booking_body(offering, resident, hour=9),
            headers=operator,
        )
    ).json()
    await world.client.post(f"/api/v1/bookings/{booking['id']}/cancel", json={"reason": "改天"}, headers=operator)
    # The resident acting for themself leaves no acting-for record.
    mine = world.keys.headers("resident", resident_id=resident["id"])
    await world.client.get(f"{RESIDENTS}/{resident['id']}", headers=mine)

    trail = await world.client.get(f"{RESIDENTS}/{resident['id']}/acting-for", headers=mine)
    assert trail.status_code == 200
    actions = [(r["action"], r["operator_subject"], r["booking_id"]) for r in reversed(trail.json()["items"])]
    assert actions == [
        ("register", "operator-wang", None),
        ("view", "operator-wang", None),
        ("correct", "operator-wang", None),
        ("book", "operator-wang", booking["id"]),
        ("cancel", "operator-wang", booking["id"]),
    ]
    stranger = world.keys.headers("resident", resident_id=uuid.uuid4())
    assert (await world.client.get(f"{RESIDENTS}/{resident['id']}/acting-for", headers=stranger)).status_code == 404
    provider = world.provider_headers(offering)
    assert (await world.client.get(f"{RESIDENTS}/{resident['id']}/acting-for", headers=provider)).status_code == 404
