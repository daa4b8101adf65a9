"""A resident erased in booking-service (``resident.erased`` over real NATS): feedback keeps the rating's stars
and the complaint's facts, and forgets what the person wrote and what was recorded about them — exactly once,
however often the event is delivered."""

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from feedback.complaints.models import Complaint, ComplaintStep
from feedback.needs.models import Need
from feedback.ratings.models import Rating
from feedback.residents.erasure import ERASED_TEXT
from feedback.residents.models import KnownHelperGrant
from service_kit.events.contracts import ResidentErased, ResidentHelperGranted
from service_kit.events.envelope import Envelope
from service_kit.events.tables import idempotency_record
from service_kit.testing import eventually
from service_kit.timeutil import utcnow

from .test_consumers import _at_least, applied, runner


async def test_erasure_keeps_the_facts_and_forgets_the_person_exactly_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    known: Any,
    publish: Any,
    complete_booking: Any,
    operator_headers: dict[str, str],
    official_headers: dict[str, str],
    resident_headers: Any,
) -> None:
    await known.categories("elderly", "elderly.meal_table")
    erased, other, daughter = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    completed = await complete_booking(resident_id=erased)
    kept_booking = await complete_booking(resident_id=other)
    await known.provider(completed.provider_id)
    await known.provider(kept_booking.provider_id)
    grant = Envelope.wrap(
        ResidentHelperGranted(
            grant_id=uuid.uuid4(), resident_id=erased, helper_resident_id=daughter, occurred_at=utcnow()
        ),
        source="booking",
    )
    await publish(grant)
    await eventually(lambda: applied(app, grant))

    complaint = await client.post(
        "/api/v1/complaints",
        json={
            "target_kind": "booking",
            "target_id": str(completed.booking_id),
            "category": "staff_conduct",
            "description": "送餐员对我母亲蒋翠屏态度很差，住址长阳镇碧波园7号",
            "resident_id": str(erased),
        },
        headers=operator_headers | {"Idempotency-Key": "complaint-jiang"},
    )
    assert complaint.status_code == 201, complaint.text
    complaint_id = uuid.UUID(complaint.json()["id"])
    noted = await client.post(
        f"/api/v1/complaints/{complaint_id}/notes",
        json={"note": "已回电蒋翠屏，她说送餐员骂人", "internal": True},
        headers=official_headers,
    )
    assert noted.status_code == 201, noted.text
    rating = await client.post(
        "/api/v1/ratings",
        json={
            "booking_id": str(completed.booking_id),
            "stars": 2,
            "dimensions": {"attitude": 1},
            "comment": "蒋翠屏：饭是凉的",
        },
        headers=resident_headers(erased) | {"Idempotency-Key": "rating-jiang"},
    )
    assert rating.status_code == 201, rating.text
    need = await client.post(
        "/api/v1/needs",
        json={"category_code": "elderly.meal_table", "text": "蒋翠屏希望周末送餐", "resident_id": str(erased)},
        headers=operator_headers,
    )
    assert need.status_code == 201, need.text
    other_rating = await client.post(
        "/api/v1/ratings",
        json={"booking_id": str(kept_booking.booking_id), "stars": 5, "comment": "很好"},
        headers=resident_headers(other) | {"Idempotency-Key": "rating-other"},
    )
    assert other_rating.status_code == 201, other_rating.text

    event = Envelope.wrap(ResidentErased(resident_id=erased), source="booking")
    await publish(event)
    await eventually(lambda: applied(app, event))

    async with app.state.sessionmaker() as session:
        row = await session.get(Complaint, complaint_id, populate_existing=True)
        assert row is not None
        assert (row.description, row.attachments, row.address) == (ERASED_TEXT, [], None)
        # What the audit and the provider's record need stays: the target, the category, who filed it.
        assert (row.resident_id, row.booking_id, row.category.value) == (erased, completed.booking_id, "staff_conduct")
        steps = (await session.scalars(select(ComplaintStep).where(ComplaintStep.complaint_id == complaint_id))).all()
        assert [s.note for s in steps] == [None] * len(steps)
        assert len(steps) == 2
        rated = await session.get(Rating, uuid.UUID(rating.json()["id"]), populate_existing=True)
        assert rated is not None
        assert (rated.stars, rated.attitude, rated.comment) == (2, 1, None)
        kept = await session.get(Rating, uuid.UUID(other_rating.json()["id"]), populate_existing=True)
        assert kept is not None
        assert kept.comment == "很好"
        needed = await session.get(Need, uuid.UUID(need.json()["id"]), populate_existing=True)
        assert needed is not None
        assert needed.text == ERASED_TEXT
        grant_row = await session.get(KnownHelperGrant, grant.parse().grant_id, populate_existing=True)
        assert grant_row is not None
        assert grant_row.active is False
        stored = {r.key for r in await session.execute(select(idempotency_record))}
        assert stored == {"rating-other"}
    # What staff see of the complaint now: its facts, nothing of her.
    shown = await client.get(f"/api/v1/complaints/{complaint_id}", headers=operator_headers)
    assert shown.json()["description"] == ERASED_TEXT
    assert "蒋翠屏" not in shown.text

    # Something filed under her id after the erasure (a stale screen) is not touched by a redelivery of the event
    # (a relay re-publishing after JetStream's duplicate window): the inbox applied it once.
    late = await client.post(
        "/api/v1/needs",
        json={"category_code": "elderly.meal_table", "text": "还想要助浴", "resident_id": str(erased)},
        headers=operator_headers,
    )
    assert late.status_code == 201
    consumer = runner(app, "resident-erasure")
    await publish(event, with_msg_id=False)
    await eventually(lambda: _at_least(consumer.duplicates, 1))
    assert consumer.applied == 1
    async with app.state.sessionmaker() as session:
        late_need = await session.get(Need, uuid.UUID(late.json()["id"]), populate_existing=True)
        assert late_need is not None
        assert late_need.text == "还想要助浴"
