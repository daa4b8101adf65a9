import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from procurement_builders import booking_completed, contract_body, create_contract, publish, signed_contract

from service_kit.events.envelope import Envelope
from service_kit.testing import TestKeys, eventually


async def test_deliverables_are_listed_by_page_newest_first(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    provider_id, offering_id = uuid.uuid4(), uuid.uuid4()
    contract = await signed_contract(app, client, test_keys, contract_body(provider_id, offering_id))
    start = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
    events = [
        booking_completed(
            offering_id=offering_id,
            provider_id=provider_id,
            occurred_at=start + timedelta(days=day),
            funded_contract_id=contract["id"],
        )
        for day in range(5)
    ]
    for event in events:
        await publish(js, Envelope.wrap(event, source="booking"))
    url = f"/api/v1/contracts/{contract['id']}/deliverables"
    official = test_keys.headers("official")

    async def all_delivered() -> bool:
        response = await client.get(url, headers=official)
        return bool(response.json()["total"] == 5)

    await eventually(all_delivered)
    first = (await client.get(url, params={"limit": 2}, headers=official)).json()
    rest = (await client.get(url, params={"limit": 2, "offset": 2}, headers=official)).json()
    last = (await client.get(url, params={"limit": 2, "offset": 4}, headers=official)).json()
    assert (first["limit"], first["offset"], first["total"]) == (2, 0, 5)
    listed = [d["booking_id"] for d in first["items"] + rest["items"] + last["items"]]
    assert listed == [str(e.booking_id) for e in reversed(events)]

    own = await client.get(url, headers=test_keys.headers("provider_admin", provider_id=provider_id))
    assert own.status_code == 200
    assert own.json()["total"] == 5
    evaluator = await client.get(url, headers=test_keys.headers("evaluator"))
    assert evaluator.status_code == 200


async def test_deliverables_of_another_providers_contract_are_not_found(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    contract = await create_contract(app, client, test_keys, contract_body(uuid.uuid4()))
    response = await client.get(
        f"/api/v1/contracts/{contract['id']}/deliverables",
        headers=test_keys.headers("provider_admin", provider_id=uuid.uuid4()),
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    unknown = await client.get(f"/api/v1/contracts/{uuid.uuid4()}/deliverables", headers=test_keys.headers("official"))
    assert unknown.status_code == 404
    resident = await client.get(
        f"/api/v1/contracts/{contract['id']}/deliverables", headers=test_keys.headers("resident")
    )
    assert resident.status_code == 403


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": "ten"}, {"offset": -5}])
async def test_bad_paging_is_refused(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys, params: dict[str, Any]
) -> None:
    contract = await create_contract(app, client, test_keys, contract_body(uuid.uuid4()))
    response = await client.get(
        f"/api/v1/contracts/{contract['id']}/deliverables", params=params, headers=test_keys.headers("official")
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
