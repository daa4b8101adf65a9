import uuid

import httpx
import pytest
from sourcing_builders import create_fund, official

from service_kit.testing import TestKeys, assert_problem


async def test_an_official_opens_a_fund_and_reads_it_back(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    fund = await create_fund(client, test_keys, budget_fen=3_575_300_000)
    assert fund["name"] == "2026年社区服务专项资金"
    # The fund's owner pays from it: every disbursement's payer.
    assert (fund["owner_id"], fund["owner_name"]) == ("fangshan-civil-affairs", "北京市房山区民政局")
    assert (fund["budget_fen"], fund["committed_fen"], fund["remaining_fen"]) == (3_575_300_000, 0, 3_575_300_000)

    fetched = await client.get(f"/api/v1/funds/{fund['id']}", headers=official(test_keys))
    assert fetched.json() == fund
    listing = await client.get("/api/v1/funds", headers=official(test_keys))
    assert listing.json()["total"] == 1

    trail = await client.get(f"/api/v1/audit-trail/{fund['id']}", headers=official(test_keys))
    assert [e["action"] for e in trail.json()["items"]] == ["created"]
    assert trail.json()["items"][0]["actor_subject"] == "official-wang"


OWNER = {"owner_id": "11110111000012345X", "owner_name": "北京市房山区民政局"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "基金", "year": 2026, "budget_fen": 100.5, **OWNER}, "budget_fen"),
        ({"name": "基金", "year": 2026, "budget_fen": "100", **OWNER}, "budget_fen"),
        ({"name": "基金", "year": 2026, "budget_fen": 0, **OWNER}, "budget_fen"),
        ({"name": "基金", "year": 2026, "budget_fen": 10**20, **OWNER}, "budget_fen"),
        ({"name": "", "year": 2026, "budget_fen": 100, **OWNER}, "name"),
        ({"name": "基金", "year": 2026, "budget_fen": 100, "committed_fen": 5, **OWNER}, "committed_fen"),
        # A fund has an owner, who pays from it.
        ({"name": "基金", "year": 2026, "budget_fen": 100, "owner_name": "北京市房山区民政局"}, "owner_id"),
        ({"name": "基金", "year": 2026, "budget_fen": 100, "owner_id": "fangshan"}, "owner_name"),
        ({"name": "基金", "year": 2026, "budget_fen": 100, **OWNER, "owner_id": "房山 区"}, "owner_id"),
        ({"name": "基金", "year": 2026, "budget_fen": 100, **OWNER, "owner_name": "  "}, "owner_name"),
    ],
)
async def test_bad_funds_are_refused(
    client: httpx.AsyncClient, test_keys: TestKeys, body: dict[str, object], field: str
) -> None:
    problem = assert_problem(await client.post("/api/v1/funds", json=body, headers=official(test_keys)), 422)
    assert [e["field"] for e in problem["errors"]] == [field]


async def test_malformed_json_is_refused(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    response = await client.post(
        "/api/v1/funds", content=b"{not json", headers={**official(test_keys), "content-type": "application/json"}
    )
    assert_problem(response, 422)


@pytest.mark.parametrize("roles", [("provider_admin",), ("reviewer",), ("operator",), ("resident",)])
async def test_only_officials_handle_funds(
    client: httpx.AsyncClient, test_keys: TestKeys, roles: tuple[str, ...]
) -> None:
    body = {"name": "基金", "year": 2026, "budget_fen": 100}
    assert_problem(await client.post("/api/v1/funds", json=body, headers=test_keys.headers(*roles)), 403)
    assert_problem(await client.get("/api/v1/funds", headers=test_keys.headers(*roles)), 403)


async def test_an_unknown_fund_is_not_found(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    assert_problem(
        await client.get(f"/api/v1/funds/{uuid.uuid4()}", headers=official(test_keys)), 404, "fund_not_found"
    )
