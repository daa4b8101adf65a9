"""A complaint's number: eight digits the caller writes down, unique however filings race, looked up by it."""

import asyncio
import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from feedback.complaints import references
from service_kit.events.contracts import ComplaintOpened
from service_kit.testing import assert_problem


def body(provider_id: uuid.UUID, **more: Any) -> dict[str, Any]:
    return {
        "target_kind": "provider",
        "target_id": str(provider_id),
        "category": "punctuality",
        "severity": "normal",
        "description": "送餐晚到一个小时，饭菜都凉了。",
        **more,
    }


def grouped(reference: str) -> str:
    """As the console reads it out and a caller says it back: two groups of four."""
    return f"{reference[:4]} {reference[4:]}"


async def found(client: httpx.AsyncClient, headers: dict[str, str], reference: str) -> list[str]:
    response = await client.get("/api/v1/complaints", params={"reference": reference}, headers=headers)
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["items"]]


async def test_the_caller_is_given_eight_digits_that_find_her_complaint(
    client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    resident_headers: Any,
    provider_headers: Any,
    read_events: Any,
    known: Any,
) -> None:
    provider_id, resident_id = await known.provider(), uuid.uuid4()
    response = await client.post(
        "/api/v1/complaints", json=body(provider_id, resident_id=str(resident_id)), headers=operator_headers
    )
    assert response.status_code == 201, response.text
    complaint = response.json()
    reference = complaint["reference"]
    assert len(reference) == 8
    assert references.is_valid(reference)
    (event,) = await read_events(ComplaintOpened, 1)
    assert (event.complaint_id, event.reference) == (uuid.UUID(complaint["id"]), reference)
    detail = (await client.get(f"/api/v1/complaints/{complaint['id']}", headers=operator_headers)).json()
    assert detail["reference"] == reference

    # She rings back and reads it out, in groups or with a dash as she wrote it down.
    for said in (reference, grouped(reference), f"{reference[:4]}-{reference[4:]}"):
        assert await found(client, operator_headers, said) == [complaint["id"]]
    assert await found(client, resident_headers(resident_id), reference) == [complaint["id"]]
    assert await found(client, provider_headers(provider_id), reference) == [complaint["id"]]
    # A number is no key to another's complaint: only what the viewer may see is searched.
    assert await found(client, resident_headers(uuid.uuid4()), reference) == []
    assert await found(client, provider_headers(await known.provider()), reference) == []
    # A number no complaint has (valid as a number) finds nothing.
    other = next(r for r in iter(references.new_reference, None) if r != reference)
    assert await found(client, operator_headers, other) == []


def misheard(reference: str) -> list[str]:
    """One digit misheard, and two neighbours swapped: what a caller or an operator gets wrong."""
    wrong_digit = reference[:5] + str((int(reference[5]) + 1) % 10) + reference[6:]
    swaps = [reference[:i] + reference[i + 1] + reference[i] + reference[i + 2 :] for i in range(7)]
    return [wrong_digit, *(s for s in swaps if s != reference)]


@pytest.mark.parametrize(
    "said",
    ["", "1234", "123456789", "abcdefgh", "4711 208６", "0471 1208", "四七一一二零八六", "4711_2086", "4" * 33],
)
async def test_a_malformed_number_is_422_at_the_parameter(
    client: httpx.AsyncClient, operator_headers: dict[str, str], said: str
) -> None:
    response = await client.get("/api/v1/complaints", params={"reference": said}, headers=operator_headers)
    problem = assert_problem(response, 422)
    assert [(e["in"], e.get("parameter")) for e in problem["errors"]] == [("query", "reference")]


async def test_a_number_read_back_wrong_is_said_to_be_wrong(
    client: httpx.AsyncClient, operator_headers: dict[str, str], known: Any
) -> None:
    provider_id = await known.provider()
    response = await client.post(
        "/api/v1/complaints", json=body(provider_id, resident_id=str(uuid.uuid4())), headers=operator_headers
    )
    reference = response.json()["reference"]
    for wrong in misheard(reference):
        response = await client.get("/api/v1/complaints", params={"reference": wrong}, headers=operator_headers)
        problem = assert_problem(response, 422, "invalid_reference")
        assert problem["errors"][0]["parameter"] == "reference"


async def test_filings_racing_each_other_get_distinct_numbers(
    client: httpx.AsyncClient, operator_headers: dict[str, str], known: Any
) -> None:
    provider_id = await known.provider()
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/complaints", json=body(provider_id, resident_id=str(uuid.uuid4())), headers=operator_headers
            )
            for _ in range(12)
        )
    )
    assert [r.status_code for r in responses] == [201] * 12, [r.text for r in responses if r.status_code != 201]
    given = [r.json()["reference"] for r in responses]
    assert len(set(given)) == 12
    for response in responses:
        assert await found(client, operator_headers, response.json()["reference"]) == [response.json()["id"]]


def draws(*first: str) -> Iterator[str]:
    """The numbers a filing draws: ``first``, then fresh ones."""
    return itertools.chain(first, iter(references.new_reference, None))


async def test_a_number_already_given_is_drawn_again(
    client: httpx.AsyncClient, operator_headers: dict[str, str], known: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider_id = await known.provider()
    earlier = (
        await client.post(
            "/api/v1/complaints", json=body(provider_id, resident_id=str(uuid.uuid4())), headers=operator_headers
        )
    ).json()
    # Two filings racing for the very number an earlier complaint has, then for one and the same new number.
    same = next(r for r in iter(references.new_reference, None) if r != earlier["reference"])
    numbers = draws(earlier["reference"], earlier["reference"], same, same)
    monkeypatch.setattr(references, "new_reference", lambda: next(numbers))
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/complaints", json=body(provider_id, resident_id=str(uuid.uuid4())), headers=operator_headers
            )
            for _ in range(2)
        )
    )
    assert [r.status_code for r in responses] == [201, 201], [r.text for r in responses]
    given = {r.json()["reference"] for r in responses}
    assert len(given) == 2
    assert earlier["reference"] not in given
    assert same in given
    assert await found(client, operator_headers, earlier["reference"]) == [earlier["id"]]


async def test_when_no_free_number_is_drawn_the_filing_is_refused_and_leaves_nothing(
    client: httpx.AsyncClient, operator_headers: dict[str, str], known: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider_id = await known.provider()
    resident_id = uuid.uuid4()
    earlier = (
        await client.post(
            "/api/v1/complaints", json=body(provider_id, resident_id=str(resident_id)), headers=operator_headers
        )
    ).json()
    monkeypatch.setattr(references, "new_reference", lambda: earlier["reference"])
    response = await client.post(
        "/api/v1/complaints", json=body(provider_id, resident_id=str(resident_id)), headers=operator_headers
    )
    assert_problem(response, 409, "reference_exhausted")
    listed = await client.get("/api/v1/complaints", params={"resident_id": str(resident_id)}, headers=operator_headers)
    assert [c["id"] for c in listed.json()["items"]] == [earlier["id"]]
