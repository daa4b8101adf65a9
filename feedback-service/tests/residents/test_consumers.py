"""Helpers and merged records, as booking-service announces them over real NATS: a helper files complaints and
needs for the resident only while their grant is active; a merge moves the duplicate's complaints, needs and
ratings to the survivor exactly once, however often the event is delivered."""

import uuid
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from feedback.complaints.models import Complaint
from feedback.needs.models import Need
from feedback.ratings.models import Rating
from feedback.residents.models import KnownHelperGrant, ResidentMergeApplied
from service_kit.events.contracts import ResidentHelperGranted, ResidentHelperRevoked, ResidentMerged
from service_kit.events.envelope import Envelope
from service_kit.events.tables import inbox_event
from service_kit.testing import eventually
from service_kit.timeutil import utcnow

Headers = Callable[[uuid.UUID], dict[str, str]]


def runner(app: FastAPI, name: str) -> Any:
    (found,) = [r for r in app.state.runtime.runners if r.durable == f"feedback-{name}"]
    return found


async def grant_row(app: FastAPI, grant_id: uuid.UUID) -> KnownHelperGrant | None:
    async with app.state.sessionmaker() as session:
        return await session.get(KnownHelperGrant, grant_id, populate_existing=True)


async def applied(app: FastAPI, envelope: Envelope) -> bool:
    async with app.state.sessionmaker() as session:
        found = await session.execute(
            select(func.count()).select_from(inbox_event).where(inbox_event.c.event_id == envelope.id)
        )
        return found.scalar_one() == 1


async def owners(app: FastAPI, model: Any, ids: list[uuid.UUID]) -> list[uuid.UUID]:
    async with app.state.sessionmaker() as session:
        rows = await session.execute(select(model.resident_id).where(model.id.in_(ids)).order_by(model.id))
        return list(rows.scalars())


def granted(resident_id: uuid.UUID, helper_id: uuid.UUID, grant_id: uuid.UUID | None = None) -> Envelope:
    event = ResidentHelperGranted(
        grant_id=grant_id or uuid.uuid4(), resident_id=resident_id, helper_resident_id=helper_id, occurred_at=utcnow()
    )
    return Envelope.wrap(event, source="booking")


def revoked(grant: Envelope) -> Envelope:
    data = grant.parse()
    event = ResidentHelperRevoked(
        grant_id=data.grant_id,
        resident_id=data.resident_id,
        helper_resident_id=data.helper_resident_id,
        occurred_at=utcnow(),
    )
    return Envelope.wrap(event, source="booking")


async def test_a_helper_files_for_the_resident_only_while_authorised(
    app: FastAPI, client: httpx.AsyncClient, known: Any, publish: Any, resident_headers: Headers
) -> None:
    await known.categories("elderly", "elderly.meal_table")
    provider_id = await known.provider()
    mother, daughter = uuid.uuid4(), uuid.uuid4()
    booking = await known.booking(mother, provider_id=provider_id)
    as_daughter = resident_headers(daughter)
    complaint = {
        "target_kind": "booking",
        "target_id": str(booking.booking_id),
        "category": "punctuality",
        "description": "送餐晚了一个小时",
        "resident_id": str(mother),
    }
    need = {"category_code": "elderly.meal_table", "text": "妈妈想要周末也有送餐", "resident_id": str(mother)}

    # No grant yet: the mother is, for the daughter, a resident that does not exist.
    assert (await client.post("/api/v1/complaints", json=complaint, headers=as_daughter)).status_code == 404
    assert (await client.post("/api/v1/needs", json=need, headers=as_daughter)).status_code == 404

    grant = granted(mother, daughter)
    await publish(grant)
    await eventually(lambda: grant_row(app, grant.parse().grant_id))

    filed = await client.post("/api/v1/complaints", json=complaint, headers=as_daughter)
    assert filed.status_code == 201, filed.text
    body = filed.json()
    assert (body["resident_id"], body["helper_resident_id"]) == (str(mother), str(daughter))
    assert body["filed_by"] == f"resident-{daughter}"
    detail = (await client.get(f"/api/v1/complaints/{body['id']}", headers=resident_headers(mother))).json()
    assert [(s["action"], s["actor_role"]) for s in detail["steps"]] == [("submitted", "helper")]
    recorded = await client.post("/api/v1/needs", json=need, headers=as_daughter)
    assert recorded.status_code == 201, recorded.text
    assert (recorded.json()["resident_id"], recorded.json()["helper_resident_id"]) == (str(mother), str(daughter))
    assert recorded.json()["source"] == "resident"
    # The daughter follows up on her mother's complaints.
    listed = await client.get("/api/v1/complaints", params={"resident_id": str(mother)}, headers=as_daughter)
    assert [c["id"] for c in listed.json()["items"]] == [body["id"]]

    await publish(revoked(grant))
    await eventually(lambda: _inactive(app, grant.parse().grant_id))
    assert (await client.post("/api/v1/complaints", json=complaint, headers=as_daughter)).status_code == 404
    assert (await client.post("/api/v1/needs", json=need, headers=as_daughter)).status_code == 404
    listed = await client.get("/api/v1/complaints", params={"resident_id": str(mother)}, headers=as_daughter)
    assert listed.json()["items"] == []  # only her own again


async def _inactive(app: FastAPI, grant_id: uuid.UUID) -> bool:
    row = await grant_row(app, grant_id)
    return row is not None and not row.active


async def test_a_revocation_arriving_before_its_grant_stays_final(
    app: FastAPI, client: httpx.AsyncClient, publish: Any
) -> None:
    grant = granted(uuid.uuid4(), uuid.uuid4())
    revocation = revoked(grant)
    await publish(revocation)
    await publish(grant)
    await eventually(lambda: applied(app, grant))
    assert await _inactive(app, grant.parse().grant_id)


async def test_a_merge_moves_complaints_needs_and_ratings_exactly_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    known: Any,
    publish: Any,
    complete_booking: Any,
    operator_headers: dict[str, str],
) -> None:
    await known.categories("elderly", "elderly.meal_table")
    survivor, duplicate = uuid.uuid4(), uuid.uuid4()
    completed = await complete_booking(resident_id=duplicate)
    await known.provider(completed.provider_id)
    complaint = await client.post(
        "/api/v1/complaints",
        json={
            "target_kind": "booking",
            "target_id": str(completed.booking_id),
            "category": "service_quality",
            "description": "饭菜凉了",
            "resident_id": str(duplicate),
        },
        headers=operator_headers,
    )
    assert complaint.status_code == 201, complaint.text
    need = await client.post(
        "/api/v1/needs",
        json={"category_code": "elderly.meal_table", "text": "希望有助餐", "resident_id": str(duplicate)},
        headers=operator_headers,
    )
    assert need.status_code == 201, need.text
    rating = await client.post(
        "/api/v1/ratings",
        json={"booking_id": str(completed.booking_id), "stars": 4},
        headers=operator_headers,
    )
    assert rating.status_code == 201, rating.text

    merged = Envelope.wrap(
        ResidentMerged(duplicate_id=duplicate, survivor_id=survivor, merged_by="operator-wang", occurred_at=utcnow()),
        source="booking",
    )
    await publish(merged)
    await eventually(lambda: applied(app, merged))
    complaint_id, need_id, rating_id = (uuid.UUID(r.json()["id"]) for r in (complaint, need, rating))
    assert await owners(app, Complaint, [complaint_id]) == [survivor]
    assert await owners(app, Need, [need_id]) == [survivor]
    assert await owners(app, Rating, [rating_id]) == [survivor]
    # The survivor sees them as their own, and may complain about the duplicate's booking.
    as_survivor = {"resident_id": str(survivor)}
    listed = await client.get("/api/v1/complaints", params=as_survivor, headers=operator_headers)
    assert [c["id"] for c in listed.json()["items"]] == [str(complaint_id)]

    # Something filed under the old id after the merge (a stale screen) stays where it was filed: a redelivery of
    # the merge (a relay re-publishing after JetStream's duplicate window) is not applied again.
    late = await client.post(
        "/api/v1/needs",
        json={"category_code": "elderly.meal_table", "text": "还想要助浴", "resident_id": str(duplicate)},
        headers=operator_headers,
    )
    assert late.status_code == 201
    await publish(merged, with_msg_id=False)
    consumer = runner(app, "residents")
    await eventually(lambda: _at_least(consumer.duplicates, 1))
    assert await owners(app, Need, [uuid.UUID(late.json()["id"])]) == [duplicate]
    async with app.state.sessionmaker() as session:
        record = await session.get(ResidentMergeApplied, duplicate)
        assert record is not None
        assert (record.survivor_id, record.complaints_moved, record.needs_moved, record.ratings_moved) == (
            survivor,
            1,
            1,
            1,
        )


async def _at_least(value: int, floor: int) -> bool:
    return value >= floor
