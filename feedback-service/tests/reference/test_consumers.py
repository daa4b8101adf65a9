"""The reference projections from real NATS: each event lands once, a redelivery changes nothing, and a late event
never takes a projection back."""

import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from feedback.reference.models import (
    KnownBooking,
    KnownCategory,
    KnownCenter,
    KnownCommunity,
    KnownOffering,
    KnownProvider,
)
from service_kit.events.contracts import (
    BookingCancelled,
    BookingCreated,
    CategoryUpserted,
    CommunityUpserted,
    ProviderSuspended,
    ProviderVerified,
    ServiceCenterUpserted,
)
from service_kit.events.envelope import Envelope
from service_kit.events.tables import inbox_event
from service_kit.testing import eventually
from service_kit.timeutil import utcnow


def runner(app: FastAPI, name: str) -> Any:
    (found,) = [r for r in app.state.runtime.runners if r.durable == f"feedback-{name}"]
    return found


async def row(app: FastAPI, model: Any, key: Any) -> Any:
    async with app.state.sessionmaker() as session:
        return await session.get(model, key)


async def count(app: FastAPI, model: Any) -> int:
    async with app.state.sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_every_kind_of_fact_lands_in_its_projection(app: FastAPI, client: httpx.AsyncClient, known: Any) -> None:
    await known.categories("elderly", "elderly.meal_table")
    await known.communities("gongchen.shidai_jiahe")
    operator = uuid.uuid4()
    center_id = await known.center(operator_id=operator)
    provider_id = await known.provider()
    offering_id, offering_provider = await known.offering()
    resident_id = uuid.uuid4()
    booking = await known.booking(resident_id)

    category = await row(app, KnownCategory, "elderly.meal_table")
    assert (category.parent_code, category.version) == ("elderly", 1)
    community = await row(app, KnownCommunity, "gongchen.shidai_jiahe")
    assert community.street_code == "gongchen"
    assert (await row(app, KnownCenter, center_id)).operator_id == operator
    assert (await row(app, KnownProvider, provider_id)).status == "verified"
    assert (await row(app, KnownOffering, offering_id)).provider_id == offering_provider
    stored = await row(app, KnownBooking, booking.booking_id)
    assert (stored.resident_id, stored.provider_id, stored.offering_id, stored.status) == (
        resident_id,
        booking.provider_id,
        booking.offering_id,
        "requested",
    )


async def test_a_redelivered_event_is_applied_once(
    app: FastAPI, client: httpx.AsyncClient, known: Any, publish: Any
) -> None:
    event = CommunityUpserted(
        code="xilu.xiluyuan", street_code="xilu", name_zh="西潞园社区", lat=39.72, lng=116.12, version=1
    )
    envelope = Envelope.wrap(event, source="registry")
    assert not (await publish(envelope)).duplicate
    assert (await publish(envelope)).duplicate  # same Nats-Msg-Id: JetStream drops it
    assert not (await publish(envelope, with_msg_id=False)).duplicate  # a late re-publish reaches the consumer
    consumer = runner(app, "reference-data")
    await eventually(lambda: _at_least(consumer.duplicates, 1))

    assert await count(app, KnownCommunity) == 1
    async with app.state.sessionmaker() as session:
        applied = await session.execute(
            select(func.count()).select_from(inbox_event).where(inbox_event.c.event_id == envelope.id)
        )
        assert applied.scalar_one() == 1
    assert consumer.applied == 1


async def _at_least(value: int, floor: int) -> bool:
    return value >= floor


async def test_an_older_version_never_overwrites_a_newer_one(
    app: FastAPI, client: httpx.AsyncClient, known: Any, publish: Any
) -> None:
    newer = CategoryUpserted(code="green.swap", parent_code="green", name_zh="二手置换（新）", version=3)
    older = CategoryUpserted(code="green.swap", parent_code="green", name_zh="二手置换", version=2)
    center_id = uuid.uuid4()
    center_v2 = ServiceCenterUpserted(
        center_id=center_id, name_zh="新名字", communities=("gongchen.haotian",), version=2
    )
    center_v1 = ServiceCenterUpserted(center_id=center_id, name_zh="旧名字", version=1)
    for event in (newer, older, center_v2, center_v1):
        await publish(Envelope.wrap(event, source="registry"))
    consumer = runner(app, "reference-data")
    await eventually(lambda: _at_least(consumer.applied, 4))

    category = await row(app, KnownCategory, "green.swap")
    assert (category.name_zh, category.version) == ("二手置换（新）", 3)
    center = await row(app, KnownCenter, center_id)
    assert (center.name_zh, center.communities, center.version) == ("新名字", ["gongchen.haotian"], 2)


async def test_a_late_provider_event_does_not_undo_a_suspension(
    app: FastAPI, client: httpx.AsyncClient, publish: Any
) -> None:
    provider_id = uuid.uuid4()
    fields = {"provider_id": provider_id, "name": "夕阳红助餐", "kind": "public_welfare"}
    suspended = Envelope.wrap(ProviderSuspended(**fields, status="suspended"), source="registry")
    verified = Envelope.wrap(ProviderVerified(**fields, status="verified"), source="registry")
    verified = dataclasses.replace(verified, time=suspended.time - timedelta(minutes=5))
    await publish(suspended)
    await publish(verified)
    consumer = runner(app, "reference-data")
    await eventually(lambda: _at_least(consumer.applied, 2))
    assert (await row(app, KnownProvider, provider_id)).status == "suspended"


async def test_a_booking_keeps_its_latest_state(app: FastAPI, client: httpx.AsyncClient, publish: Any) -> None:
    now = utcnow()
    created = BookingCreated(
        booking_id=uuid.uuid4(),
        offering_id=uuid.uuid4(),
        provider_id=uuid.uuid4(),
        resident_id=uuid.uuid4(),
        status="requested",
        channel="phone",
        slot_start=now + timedelta(days=1),
        slot_end=now + timedelta(days=1, hours=1),
        price_fen=0,
        occurred_at=now,
    )
    cancelled = BookingCancelled(**created.model_dump() | {"status": "cancelled", "occurred_at": now + timedelta(1)})
    # The cancellation first, the creation redelivered late.
    await publish(Envelope.wrap(cancelled, source="booking"))
    await publish(Envelope.wrap(created, source="booking"))
    consumer = runner(app, "resident-bookings")
    await eventually(lambda: _at_least(consumer.applied, 2))
    stored = await row(app, KnownBooking, created.booking_id)
    assert (stored.status, stored.resident_id) == ("cancelled", created.resident_id)
