"""A provider's own system (an API key the gateway exchanged for a token of role ``provider_system``) reads its
provider's contracts with ``contracts:read`` and what was delivered under them with ``deliverables:read``, and
never another provider's."""

import uuid

import httpx
from fastapi import FastAPI
from procurement_builders import contract_body, create_contract

from service_kit.testing import TestKeys


def system(test_keys: TestKeys, provider_id: uuid.UUID, *scopes: str) -> dict[str, str]:
    return test_keys.headers(
        "provider_system", provider_id=provider_id, sub=f"api-key:{uuid.uuid4()}", scope=" ".join(scopes)
    )


async def test_a_providers_system_reads_its_own_contracts_only(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    ours, theirs = uuid.uuid4(), uuid.uuid4()
    own = await create_contract(app, client, test_keys, contract_body(ours))
    other = await create_contract(app, client, test_keys, contract_body(theirs))
    reader = system(test_keys, ours, "contracts:read")

    listed = (await client.get("/api/v1/contracts", headers=reader)).json()
    assert [c["id"] for c in listed["items"]] == [own["id"]]
    assert listed["total"] == 1
    # Asking for another provider's lists none of them.
    asked = (await client.get("/api/v1/contracts", params={"provider_id": str(theirs)}, headers=reader)).json()
    assert (asked["items"], asked["total"]) == ([], 0)

    assert (await client.get(f"/api/v1/contracts/{own['id']}", headers=reader)).json()["provider_id"] == str(ours)
    assert (await client.get(f"/api/v1/contracts/{own['id']}/history", headers=reader)).status_code == 200
    for path in (f"/api/v1/contracts/{other['id']}", f"/api/v1/contracts/{other['id']}/history"):
        refused = await client.get(path, headers=reader)
        assert refused.status_code == 404, path
        assert refused.json()["code"] == "contract_not_found"


async def test_each_scope_opens_its_own_records(app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    ours = uuid.uuid4()
    contract = await create_contract(app, client, test_keys, contract_body(ours))
    deliverables = f"/api/v1/contracts/{contract['id']}/deliverables"

    contracts_only = system(test_keys, ours, "contracts:read")
    assert (await client.get(deliverables, headers=contracts_only)).status_code == 404
    deliveries_only = system(test_keys, ours, "deliverables:read")
    listed = await client.get(deliverables, headers=deliveries_only)
    assert listed.status_code == 200, listed.text
    assert listed.json()["total"] == 0
    assert (await client.get(f"/api/v1/contracts/{contract['id']}", headers=deliveries_only)).status_code == 404
    refused = await client.get("/api/v1/contracts", headers=deliveries_only)
    assert (refused.status_code, refused.json()["code"]) == (403, "scope_missing")
    # Another provider's system with both scopes finds nothing of this contract.
    stranger = system(test_keys, uuid.uuid4(), "contracts:read", "deliverables:read")
    assert (await client.get(deliverables, headers=stranger)).status_code == 404
