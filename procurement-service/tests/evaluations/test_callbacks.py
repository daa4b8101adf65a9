"""Satisfaction callbacks (电话回访): the service draws a funded booking of the contract at random, an operator
calls its resident and records the answer; the quality part reads them."""

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from lifecycle_builders import deliver_services
from nats.js import JetStreamContext
from procurement_builders import booking_completed, contract_body, signed_contract
from sourcing_builders import deliver, official, provider_admin

from service_kit.testing import TestKeys, assert_problem


async def test_an_operator_records_callbacks_to_a_random_sample_of_the_contracts_residents(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    provider_id = uuid.uuid4()
    contract = await signed_contract(app, client, test_keys, contract_body(provider_id))
    callbacks = f"/api/v1/contracts/{contract['id']}/callbacks"
    operator = test_keys.headers("operator", sub="operator-zhao", name="赵话务员")
    assert_problem(await client.post(callbacks, headers=operator), 409, "nothing_to_call_back")
    assert_problem(await client.post(callbacks, headers=provider_admin(test_keys, provider_id)), 403)
    assert_problem(await client.post(f"/api/v1/contracts/{uuid.uuid4()}/callbacks", headers=operator), 404)

    bookings = await deliver_services(app, js, contract, 3)
    drawn = [await client.post(callbacks, headers=operator) for _ in range(3)]
    assert [d.status_code for d in drawn] == [201] * 3, [d.text for d in drawn]
    # Each drawn from the contract's own funded bookings, none twice; then none is left.
    assert sorted(str(d.json()["booking_id"]) for d in drawn) == sorted(str(b) for b in bookings)
    assert {d.json()["status"] for d in drawn} == {"pending"}
    assert_problem(await client.post(callbacks, headers=operator), 409, "nothing_to_call_back")

    first, second, third = (d.json() for d in drawn)
    result = f"{callbacks}/{first['id']}/result"
    for bad, field, code in (
        ({"reached": True}, "satisfied", "satisfied_missing"),
        ({"reached": False, "satisfied": True}, "satisfied", "satisfied_without_reaching"),
    ):
        problem = assert_problem(await client.post(result, json=bad, headers=operator), 422, code)
        assert [e["field"] for e in problem["errors"]] == [field]
    for bad in ({}, {"reached": "yes"}, {"reached": True, "satisfied": True, "x": 1}):
        assert_problem(await client.post(result, json=bad, headers=operator), 422)
    assert_problem(
        await client.post(f"{callbacks}/{uuid.uuid4()}/result", json={"reached": False}, headers=operator),
        404,
        "callback_not_found",
    )
    recorded = await client.post(
        result, json={"reached": True, "satisfied": False, "note": "送餐常迟到"}, headers=operator
    )
    assert recorded.status_code == 200, recorded.text
    assert (recorded.json()["status"], recorded.json()["satisfied"], recorded.json()["recorded_by"]) == (
        "recorded",
        False,
        "operator-zhao",
    )
    assert_problem(
        await client.post(result, json={"reached": True, "satisfied": True}, headers=operator),
        409,
        "callback_already_recorded",
    )
    # Of two operators recording the same callback at once, one records it.
    racing = await asyncio.gather(
        *(
            client.post(f"{callbacks}/{second['id']}/result", json={"reached": True, "satisfied": s}, headers=operator)
            for s in (True, False)
        )
    )
    assert sorted(r.status_code for r in racing) == [200, 409], [r.text for r in racing]
    unreached = await client.post(f"{callbacks}/{third['id']}/result", json={"reached": False}, headers=operator)
    assert unreached.status_code == 200, unreached.text

    listing = (await client.get(callbacks, headers=official(test_keys))).json()
    assert listing["total"] == 3
    assert {item["status"] for item in listing["items"]} == {"recorded"}
    # The quality part: of the two residents reached, the satisfied share.
    opened = await client.post(
        f"/api/v1/contracts/{contract['id']}/evaluations", json={"stage": "midterm"}, headers=official(test_keys)
    )
    quality = opened.json()["parts"]["quality"]
    satisfied = 1 if any(r.status_code == 200 and r.json()["satisfied"] for r in racing) else 0
    assert quality["basis"]["callbacks_recorded"] == 3
    assert quality["basis"]["callbacks_reached"] == 2
    assert quality["score"] == 100 * satisfied / 2


async def test_racing_draws_never_call_the_same_resident_twice(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    contract = await signed_contract(app, client, test_keys, contract_body(uuid.uuid4()))
    callbacks = f"/api/v1/contracts/{contract['id']}/callbacks"
    operator = test_keys.headers("operator", sub="operator-zhao")
    await deliver_services(app, js, contract, 2)
    draws = await asyncio.gather(*(client.post(callbacks, headers=operator) for _ in range(3)))
    assert sorted(d.status_code for d in draws) == [201, 201, 409], [d.text for d in draws]
    booked = [d.json()["booking_id"] for d in draws if d.status_code == 201]
    assert len(set(booked)) == 2


async def test_a_suspect_delivery_is_neither_counted_nor_called_back(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    provider_id, offering_id = uuid.uuid4(), uuid.uuid4()
    body = contract_body(provider_id, offering_id)
    body["funded_offerings"][0]["quota"] = 2
    contract = await signed_contract(app, client, test_keys, body)
    doubtful = booking_completed(
        offering_id=offering_id,
        provider_id=provider_id,
        occurred_at=datetime(2027, 3, 1, 6, 0, tzinfo=UTC),
        funded_contract_id=contract["id"],
    ).model_copy(update={"suspect_reasons": ("far_from_place",)})
    await deliver(app, js, "deliverables", doubtful, source="booking")
    (verified,) = await deliver_services(app, js, contract, 1)
    operator = test_keys.headers("operator", sub="operator-zhao")
    drawn = await client.post(f"/api/v1/contracts/{contract['id']}/callbacks", headers=operator)
    assert (drawn.status_code, drawn.json()["booking_id"]) == (201, str(verified))
    again = await client.post(f"/api/v1/contracts/{contract['id']}/callbacks", headers=operator)
    assert_problem(again, 409, "nothing_to_call_back")
    opened = await client.post(
        f"/api/v1/contracts/{contract['id']}/evaluations", json={"stage": "midterm"}, headers=official(test_keys)
    )
    quantity = opened.json()["parts"]["quantity"]
    assert (quantity["basis"]["delivered"], quantity["score"]) == (1, 50)
