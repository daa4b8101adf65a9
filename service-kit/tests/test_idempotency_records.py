"""Stored responses keep only what a replay needs, sealed, about a named resident, for 24 h.

A response stored under an ``Idempotency-Key`` may hold personal data: it is sealed at rest, names the resident
it is about (the caller's own record, or the one the endpoint names for an operator or a helper), is deleted
when that resident is erased, and is replayed for ``idempotency_retention_seconds`` only — after that the key
is free and a retry runs as a new request, whether or not the worker's purge has run.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service_kit.app import ServiceSpec, create_service_app
from service_kit.auth import CurrentPrincipal
from service_kit.db import SessionDep
from service_kit.events.tables import idempotency_record
from service_kit.idempotency import about_resident, forget_resident, purge_expired
from service_kit.settings import ServiceSettings
from service_kit.testing import TestKeys, eventually, running_app
from service_kit.timeutil import utcnow

calls: list[str] = []
RESIDENT = uuid.UUID("6d1b6a70-3f1e-4c55-9d0e-1f2a3b4c5d6e")
OTHER = uuid.UUID("0b9c8d7e-6f5a-4b3c-8d2e-1f0a9b8c7d6e")


class Card(BaseModel):
    resident_id: uuid.UUID
    name: str
    phone: str


def cards_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/cards")

    @router.post("", status_code=201, response_model=Card)
    async def create_card(body: Card, principal: CurrentPrincipal, session: SessionDep) -> Card:
        """The answer's ``resident_id`` says whom it is about."""
        calls.append(body.name)
        return body

    @router.post("/registrations", status_code=201)
    async def register(
        body: Card, request: Request, principal: CurrentPrincipal, session: SessionDep
    ) -> dict[str, Any]:
        """A new record: its id is no ``resident_id`` field, so the endpoint names it."""
        calls.append(body.name)
        about_resident(request.state, body.resident_id)
        return {"id": str(body.resident_id), "name": body.name}

    @router.post("/own", status_code=201)
    async def own(body: Card, principal: CurrentPrincipal, session: SessionDep) -> dict[str, Any]:
        """Nothing names anyone: a resident's own request is about their own record."""
        calls.append(body.name)
        return {"name": body.name, "phone": body.phone}

    return router


class KitSettings(ServiceSettings):
    service_name = "kit"


@pytest.fixture
async def client(service_env: dict[str, Any], kit_db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = KitSettings(**service_env, database_url=kit_db_url)
    app = create_service_app(ServiceSpec(name="kit", title="kit", settings=settings, routers=[cards_router()]))
    async with running_app(app) as http:
        yield http


async def _store_plain(
    sessionmaker: async_sessionmaker[AsyncSession], *, scope: str, key: str, created_at: datetime, **values: Any
) -> None:
    """A finished record of a card's creation as it was stored before sealing (plain), ``values`` changed."""
    row = {
        "method": "POST",
        "path": "/api/v1/cards",
        "request_hash": "0" * 64,
        "status": "done",
        "response_status": 201,
        "response_headers": {},
        "response_body": b"{}",
    }
    async with sessionmaker() as session, session.begin():
        await session.execute(
            insert(idempotency_record).values(scope=scope, key=key, created_at=created_at, **(row | values))
        )


async def _records(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Any]:
    async with sessionmaker() as session:
        return [r._mapping for r in await session.execute(select(idempotency_record))]


async def test_a_stored_response_is_sealed_and_replayed_plain(
    client: httpx.AsyncClient, test_keys: TestKeys, kit_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    headers = test_keys.headers("operator", sub="op-seal") | {"Idempotency-Key": "seal-1"}
    card = {"resident_id": str(RESIDENT), "name": "王秀英", "phone": "+8613912345678"}
    first = await client.post("/api/v1/cards", json=card, headers=headers)
    again = await client.post("/api/v1/cards", json=card, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json() == card
    [record] = [r for r in await _records(kit_sessionmaker) if r["key"] == "seal-1"]
    stored = bytes(record["response_body"])
    assert stored.startswith(b"v2:")
    for value in ("王秀英".encode(), "王秀英".encode("unicode_escape"), b"13912345678"):
        assert value not in stored
    # Only what a replay needs: the status and the content type, no other header of the first answer.
    assert record["response_status"] == 201
    assert set(record["response_headers"]) == {"content-type"}


async def test_an_answer_sealed_with_a_dropped_key_is_a_409_not_a_500(
    service_env: dict[str, Any], kit_db_url: str, test_keys: TestKeys
) -> None:
    """The data key that sealed a stored answer was dropped from the keyring before the record expired: the retry
    is told the request succeeded and its answer cannot be shown again, and it runs nothing twice."""
    calls.clear()
    headers = test_keys.headers("operator", sub="op-rotated") | {"Idempotency-Key": "before-rotation"}
    card = {"resident_id": str(RESIDENT), "name": "周淑珍", "phone": "+8613912340003"}
    before = KitSettings(**service_env, database_url=kit_db_url, data_key="first-data-key-0123456789abcdef")
    app = create_service_app(ServiceSpec(name="kit", title="kit", settings=before, routers=[cards_router()]))
    async with running_app(app) as http:
        assert (await http.post("/api/v1/cards", json=card, headers=headers)).status_code == 201
    after = KitSettings(**service_env, database_url=kit_db_url, data_key="second-data-key-0123456789abcdef")
    app = create_service_app(ServiceSpec(name="kit", title="kit", settings=after, routers=[cards_router()]))
    async with running_app(app) as http:
        again = await http.post("/api/v1/cards", json=card, headers=headers)
    assert again.status_code == 409, again.text
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["code"] == "response_not_replayable"
    assert "did succeed" in again.json()["detail"]
    assert calls == ["周淑珍"]


async def test_erasure_deletes_the_responses_about_the_resident_under_every_scope(
    client: httpx.AsyncClient, test_keys: TestKeys, kit_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    calls.clear()
    card = {"resident_id": str(RESIDENT), "name": "李桂兰", "phone": "+8613912340001"}
    other = {"resident_id": str(OTHER), "name": "赵德顺", "phone": "+8613912340002"}
    operator = test_keys.headers("operator", sub="op-erase") | {"Idempotency-Key": "for-caller"}
    registrar = test_keys.headers("operator", sub="op-erase") | {"Idempotency-Key": "registration"}
    herself = test_keys.headers("resident", sub="app-erase", resident_id=RESIDENT) | {"Idempotency-Key": "own"}
    # Her daughter (a helper: her own resident account) acting for her: the answer names the mother.
    helper = test_keys.headers("resident", sub="app-helper", resident_id=OTHER) | {"Idempotency-Key": "helped"}
    for_other = test_keys.headers("operator", sub="op-erase") | {"Idempotency-Key": "for-other"}
    for path, headers, body in (
        ("", operator, card),
        ("/registrations", registrar, card),
        ("/own", herself, card),
        ("", helper, card),
        ("", for_other, other),
    ):
        assert (await client.post(f"/api/v1/cards{path}", json=body, headers=headers)).status_code == 201
    about = {r["key"]: r["resident_id"] for r in await _records(kit_sessionmaker)}
    assert about == {
        "for-caller": RESIDENT,
        "registration": RESIDENT,
        "own": RESIDENT,
        "helped": RESIDENT,
        "for-other": OTHER,
    }

    async with kit_sessionmaker() as session, session.begin():
        assert await forget_resident(session, RESIDENT) == 4
    assert {r["key"] for r in await _records(kit_sessionmaker)} == {"for-other"}
    # Nothing of hers is replayed: the operator's retry runs as a new request; the other caller's still replays.
    retried = await client.post("/api/v1/cards", json=card, headers=operator)
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    replayed = await client.post("/api/v1/cards", json=other, headers=for_other)
    assert replayed.headers["idempotent-replayed"] == "true"
    assert calls == ["李桂兰"] * 4 + ["赵德顺", "李桂兰"]


async def _age(sessionmaker: async_sessionmaker[AsyncSession], key: str, by: timedelta) -> None:
    async with sessionmaker() as session, session.begin():
        where = idempotency_record.c.key == key
        created_at = await session.scalar(select(idempotency_record.c.created_at).where(where))
        await session.execute(update(idempotency_record).where(where).values(created_at=created_at - by))


async def test_a_key_is_replayed_for_24_hours_then_runs_as_a_new_request(
    client: httpx.AsyncClient, test_keys: TestKeys, kit_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    calls.clear()
    headers = test_keys.headers("operator", sub="op-expiry") | {"Idempotency-Key": "day-1"}
    card = {"resident_id": str(RESIDENT), "name": "孙玉梅", "phone": "+8613912340003"}
    assert (await client.post("/api/v1/cards", json=card, headers=headers)).status_code == 201

    await _age(kit_sessionmaker, "day-1", timedelta(hours=24) - timedelta(minutes=1))
    just_before = await client.post("/api/v1/cards", json=card, headers=headers)
    assert just_before.headers["idempotent-replayed"] == "true"
    assert calls == ["孙玉梅"]

    await _age(kit_sessionmaker, "day-1", timedelta(minutes=2))  # now 24 h and a minute old; not purged yet
    after = await client.post("/api/v1/cards", json=card, headers=headers)
    assert after.status_code == 201
    assert "idempotent-replayed" not in after.headers
    assert calls == ["孙玉梅", "孙玉梅"]
    # The new request's response is the one kept now, for another 24 h.
    again = await client.post("/api/v1/cards", json=card, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    # Even another body with the key is a new request once the key expired.
    await _age(kit_sessionmaker, "day-1", timedelta(hours=25))
    changed = {**card, "name": "孙玉兰"}
    assert (await client.post("/api/v1/cards", json=changed, headers=headers)).json()["name"] == "孙玉兰"


async def test_the_purge_deletes_only_records_past_the_retention(
    kit_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    now = utcnow()
    rows = {"old": now - timedelta(hours=24, seconds=1), "young": now - timedelta(hours=23, minutes=59)}
    for key, created_at in rows.items():
        await _store_plain(kit_sessionmaker, scope="sub:purge", key=key, created_at=created_at)
    async with kit_sessionmaker() as session, session.begin():
        assert await purge_expired(session, timedelta(hours=24), now=now) == 1
    assert {r["key"] for r in await _records(kit_sessionmaker) if r["scope"] == "sub:purge"} == {"young"}


async def test_a_record_stored_before_sealing_still_replays(
    client: httpx.AsyncClient, test_keys: TestKeys, kit_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Records written before the upgrade are plain; they replay until the purge removes them."""
    import hashlib

    card = {"resident_id": str(RESIDENT), "name": "周淑珍", "phone": "+8613912340004"}
    body = httpx.Request("POST", "http://x", json=card).content
    await _store_plain(
        kit_sessionmaker,
        scope="sub:op-legacy",
        key="legacy",
        created_at=utcnow(),
        request_hash=hashlib.sha256(b"/api/v1/cards\n" + body).hexdigest(),
        response_headers={"content-type": "application/json"},
        response_body=b'{"legacy": true}',
    )
    headers = test_keys.headers("operator", sub="op-legacy") | {
        "Idempotency-Key": "legacy",
        "content-type": "application/json",
    }
    replay = await client.post("/api/v1/cards", content=body, headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == {"legacy": True}


async def test_every_service_worker_purges_expired_records(
    service_env: dict[str, Any], kit_db_url: str, kit_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The kit's own job runs in every service's worker, at its start and then every purge interval."""
    async with kit_sessionmaker() as session, session.begin():
        for key, age in (("stale", timedelta(hours=30)), ("fresh", timedelta(hours=1))):
            await session.execute(
                insert(idempotency_record).values(
                    scope="sub:worker",
                    key=key,
                    method="POST",
                    path="/api/v1/cards",
                    request_hash="0" * 64,
                    status="done",
                    response_status=201,
                    response_headers={},
                    response_body=b"{}",
                    created_at=utcnow() - age,
                )
            )
    settings = KitSettings(**service_env, database_url=kit_db_url)
    app = create_service_app(ServiceSpec(name="kit", title="kit", settings=settings, routers=[cards_router()]))

    async def kept() -> set[str]:
        return {r["key"] for r in await _records(kit_sessionmaker) if r["scope"] == "sub:worker"}

    async with running_app(app):
        await eventually(lambda: _equal(kept, {"fresh"}))
    assert await kept() == {"fresh"}


async def _equal(get: Any, expected: set[str]) -> bool:
    return bool(await get() == expected)
