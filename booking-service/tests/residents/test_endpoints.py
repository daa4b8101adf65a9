import uuid
from typing import Any

import httpx
import pytest

from service_kit.testing import TestKeys

# The registry has announced the gazetteer's communities: registrations name them.
pytestmark = pytest.mark.usefixtures("gazetteer")

RESIDENTS = "/api/v1/residents"


def body(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "  李桂兰 ",
        "phone": "138 1234 5678",
        "community_code": "gongchen.shidai_jiahe",
        "eligibility_tags": ["living_alone", "age_80_plus", "age_80_plus"],
        "consent": {"version": "2026-11", "channel": "phone"},
    }
    values.update(overrides)
    return values


async def test_an_operator_registers_a_resident_with_consent(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    response = await client.post(RESIDENTS, json=body(), headers=test_keys.headers("operator"))
    assert response.status_code == 201, response.text
    resident = response.json()
    assert resident["name"] == "李桂兰"
    assert resident["phone"] == "+8613812345678"
    assert resident["community_code"] == "gongchen.shidai_jiahe"
    assert resident["eligibility_tags"] == ["age_80_plus", "living_alone"]
    assert resident["consent"]["version"] == "2026-11"
    assert resident["consent"]["channel"] == "phone"
    assert resident["consent"]["recorded_at"].endswith("Z")

    fetched = await client.get(f"{RESIDENTS}/{resident['id']}", headers=test_keys.headers("operator"))
    assert fetched.status_code == 200
    assert fetched.json() == resident


async def test_a_phone_number_belongs_to_one_resident(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    first = await client.post(RESIDENTS, json=body(), headers=test_keys.headers("operator"))
    assert first.status_code == 201
    again = await client.post(RESIDENTS, json=body(phone="+86-138-1234-5678"), headers=test_keys.headers("admin"))
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["code"] == "phone_taken"


async def test_every_bad_field_of_a_registration_is_told_at_once(
    client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    """The phone, the ID number and the emergency contact's phone, each under its own pointer: an emergency
    contact's bad phone is never the resident's own phone's problem."""
    response = await client.post(
        RESIDENTS,
        json=body(
            phone="12345",
            id_card_number="110111194003080021",
            emergency_contact={"name": "赵小红", "phone": "12"},  # two digits typed
        ),
        headers=test_keys.headers("operator"),
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "invalid_phone"  # the first, as when it was told alone
    told = {e["pointer"]: e["type"] for e in problem["errors"]}
    assert told == {
        "#/phone": "invalid_phone",
        "#/id_card_number": "invalid_id_card",
        "#/emergency_contact/phone": "invalid_phone",
    }

    only_the_contact = await client.post(
        RESIDENTS,
        json=body(emergency_contact={"name": "赵小红", "phone": "123"}),
        headers=test_keys.headers("operator"),
    )
    assert only_the_contact.status_code == 422
    assert [e["field"] for e in only_the_contact.json()["errors"]] == ["emergency_contact.phone"]


async def test_a_missing_consent_is_told_with_the_other_bad_fields(
    client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    """The operator has not ticked the caller's consent and mistyped her ID number: both are told in one answer
    (the console marks both at once), and nobody is registered."""
    operator = test_keys.headers("operator")
    without = body(id_card_number="110111194003080021")
    del without["consent"]
    response = await client.post(RESIDENTS, json=without, headers=operator)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "invalid_id_card"
    assert {e["pointer"]: e["type"] for e in problem["errors"]} == {
        "#/id_card_number": "invalid_id_card",
        "#/consent": "consent_required",
    }
    alone = await client.post(RESIDENTS, json={k: v for k, v in body().items() if k != "consent"}, headers=operator)
    assert alone.status_code == 422
    assert (alone.json()["code"], [e["field"] for e in alone.json()["errors"]]) == ("consent_required", ["consent"])
    found = await client.get(RESIDENTS, params={"phone": body()["phone"]}, headers=operator)
    assert found.json()["items"] == []


async def test_a_taken_phone_or_id_number_names_its_resident_to_staff(
    client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    id_number = "110111194501010046"
    first = await client.post(RESIDENTS, json=body(id_card_number=id_number), headers=test_keys.headers("operator"))
    assert first.status_code == 201, first.text
    holder = first.json()["id"]
    for payload, code, pointer in [
        (body(phone="13900001111", id_card_number=id_number), "id_card_taken", "#/id_card_number"),
        (body(), "phone_taken", "#/phone"),
    ]:
        again = await client.post(RESIDENTS, json=payload, headers=test_keys.headers("operator"))
        assert again.status_code == 409
        problem = again.json()
        assert problem["code"] == code
        assert problem["existing_resident_id"] == holder
        assert [e["pointer"] for e in problem["errors"]] == [pointer]


async def test_an_operator_finds_a_caller_by_phone(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    created = (await client.post(RESIDENTS, json=body(), headers=test_keys.headers("operator"))).json()
    found = await client.get(RESIDENTS, params={"phone": "+8613812345678"}, headers=test_keys.headers("operator"))
    assert found.status_code == 200
    assert [r["id"] for r in found.json()["items"]] == [created["id"]]
    same = await client.get(RESIDENTS, params={"phone": "138-1234-5678"}, headers=test_keys.headers("operator"))
    assert [r["id"] for r in same.json()["items"]] == [created["id"]]
    nobody = await client.get(RESIDENTS, params={"phone": "13900000000"}, headers=test_keys.headers("operator"))
    assert nobody.status_code == 200
    assert nobody.json()["items"] == []
    bad = await client.get(RESIDENTS, params={"phone": "hello"}, headers=test_keys.headers("operator"))
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_phone"


async def test_a_resident_sees_only_themself(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    mine = (await client.post(RESIDENTS, json=body(), headers=test_keys.headers("operator"))).json()
    other = (await client.post(RESIDENTS, json=body(phone="13987654321"), headers=test_keys.headers("operator"))).json()
    as_me = test_keys.headers("resident", resident_id=mine["id"])

    own = await client.get(f"{RESIDENTS}/{mine['id']}", headers=as_me)
    assert own.status_code == 200
    assert own.json()["phone"] == "+8613812345678"

    theirs = await client.get(f"{RESIDENTS}/{other['id']}", headers=as_me)
    assert theirs.status_code == 404
    assert theirs.json()["code"] == "resident_not_found"
    unknown = await client.get(f"{RESIDENTS}/{uuid.uuid4()}", headers=test_keys.headers("operator"))
    assert unknown.status_code == 404


async def test_providers_and_officials_cannot_read_residents(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    resident = (await client.post(RESIDENTS, json=body(), headers=test_keys.headers("operator"))).json()
    for headers in (test_keys.headers("provider_admin", provider_id=uuid.uuid4()), test_keys.headers("official")):
        response = await client.get(f"{RESIDENTS}/{resident['id']}", headers=headers)
        assert response.status_code == 404


async def test_only_operators_register_and_search(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    anonymous = await client.post(RESIDENTS, json=body())
    assert anonymous.status_code == 401
    for role in ("resident", "provider_admin", "official"):
        response = await client.post(RESIDENTS, json=body(), headers=test_keys.headers(role))
        # A resident registers only themself, and never with eligibility tags (test_rights.py).
        assert response.status_code == 403, role
        search = await client.get(RESIDENTS, params={"phone": "13812345678"}, headers=test_keys.headers(role))
        assert search.status_code == 403, role


async def test_bad_input_is_a_problem_not_a_crash(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    operator = test_keys.headers("operator")
    cases: list[tuple[Any, str]] = [
        (body(phone="12345"), "invalid_phone"),
        (body(phone="x" * 500), "validation_error"),
        (body(name=""), "validation_error"),
        (body(name="名" * 51), "validation_error"),
        (body(eligibility_tags=["rich"]), "validation_error"),
        (body(eligibility_tags="age_80_plus"), "validation_error"),
        (body(community_code="../../etc"), "validation_error"),
        (body(consent={"version": "1"}), "validation_error"),
        (body(consent=None), "consent_required"),
        (body(role="admin"), "validation_error"),
        ({**body(), "phone": 13812345678}, "validation_error"),
        ([], "validation_error"),
    ]
    for payload, code in cases:
        response = await client.post(RESIDENTS, json=payload, headers=operator)
        assert response.status_code == 422, (payload, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == code, payload
    malformed = await client.post(
        RESIDENTS, content=b'{"name": "x",', headers={**operator, "content-type": "application/json"}
    )
    assert malformed.status_code == 422
    assert malformed.headers["content-type"] == "application/problem+json"
    not_an_id = await client.get(f"{RESIDENTS}/not-a-uuid", headers=operator)
    assert not_an_id.status_code == 422


async def test_a_retried_registration_is_answered_once(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    headers = {**test_keys.headers("operator", sub="operator-7"), "Idempotency-Key": "call-2026-11-26-001"}
    first = await client.post(RESIDENTS, json=body(), headers=headers)
    retry = await client.post(RESIDENTS, json=body(), headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    assert retry.headers["idempotent-replayed"] == "true"
