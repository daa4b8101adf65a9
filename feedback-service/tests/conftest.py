import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from nats.js.api import PubAck
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback.app import SERVICE_DIR, create_app
from feedback.config import Settings
from feedback.ratings.models import RatingInvitation
from service_kit.db import create_engine, create_sessionmaker
from service_kit.events.contracts import BookingCompleted
from service_kit.events.envelope import Envelope
from service_kit.testing import DatabaseFactory, TestKeys, eventually, running_app
from service_kit.timeutil import utcnow

# Tests take these helpers as fixtures: with importlib imports a test module cannot import from conftest.
CompleteBooking = Callable[..., Awaitable[BookingCompleted]]
Publish = Callable[..., Awaitable[PubAck]]
InvitationOf = Callable[[uuid.UUID], Awaitable[RatingInvitation | None]]


@pytest.fixture
def settings(service_env: dict[str, Any], database_factory: DatabaseFactory) -> Settings:
    return Settings(**service_env, database_url=database_factory.new(SERVICE_DIR))


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(app) as client:
        yield client


@pytest.fixture
def service_dir() -> Path:
    return SERVICE_DIR


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    """A JetStream client of its own, publishing the way another service's outbox relay does."""
    nc = await nats.connect(nats_url)
    yield nc.jetstream()
    await nc.close()


def _booking_completed(**overrides: Any) -> BookingCompleted:
    """A ``booking.completed`` as booking-service emits it."""
    now = utcnow()
    fields: dict[str, Any] = {
        "booking_id": uuid.uuid4(),
        "offering_id": uuid.uuid4(),
        "provider_id": uuid.uuid4(),
        "resident_id": uuid.uuid4(),
        "status": "completed",
        "channel": "phone",
        "slot_start": now - timedelta(hours=1),
        "slot_end": now,
        "price_fen": 1500,
        "actor": "provider-staff-1",
        "occurred_at": now,
    }
    fields.update(overrides)
    return BookingCompleted(**fields)


@pytest.fixture
def booking_completed() -> Callable[..., BookingCompleted]:
    return _booking_completed


@pytest.fixture
def publish(js: JetStreamContext) -> Publish:
    async def publish(envelope: Envelope, *, with_msg_id: bool = True) -> PubAck:
        headers = envelope.headers()
        if not with_msg_id:
            # A relay re-publishing after the stream's duplicate window: JetStream lets it through.
            headers.pop("Nats-Msg-Id")
        return await js.publish(envelope.type, envelope.payload(), headers=headers)

    return publish


@pytest.fixture
def invitation_of(app: FastAPI) -> InvitationOf:
    async def invitation_of(booking_id: uuid.UUID) -> RatingInvitation | None:
        async with app.state.sessionmaker() as session:
            result = await session.execute(select(RatingInvitation).where(RatingInvitation.booking_id == booking_id))
            return result.scalar_one_or_none()

    return invitation_of


@pytest.fixture
def complete_booking(client: httpx.AsyncClient, publish: Publish, invitation_of: InvitationOf) -> CompleteBooking:
    """Publish a real ``booking.completed`` and wait until the feedback has opened its invitation."""

    async def complete(**overrides: Any) -> BookingCompleted:
        event = _booking_completed(**overrides)
        await publish(Envelope.wrap(event, source="booking"))
        await eventually(lambda: invitation_of(event.booking_id))
        return event

    return complete


@pytest.fixture
def resident_headers(test_keys: TestKeys) -> Callable[[uuid.UUID], dict[str, str]]:
    def headers(resident_id: uuid.UUID) -> dict[str, str]:
        return test_keys.headers("resident", resident_id=resident_id, sub=f"resident-{resident_id}")

    return headers


@pytest.fixture
def operator_headers(test_keys: TestKeys) -> dict[str, str]:
    return test_keys.headers("operator", sub="operator-wang", name="王话务员")


@pytest.fixture
async def sessionmaker(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Direct database access for repository and service tests (no HTTP, no NATS)."""
    engine = create_engine(settings.database_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


ReadEvents = Callable[..., Awaitable[list[Any]]]


@pytest.fixture
def read_events(js: JetStreamContext) -> ReadEvents:
    """The events of one type the feedback published to JetStream (through its outbox relay), in order."""

    async def read(event_type: Any, count: int, *, timeout: float = 10.0) -> list[Any]:
        reader = await js.pull_subscribe(event_type.type, durable=f"test-{uuid.uuid4().hex[:8]}", stream="LINLI")
        messages: list[Any] = []
        deadline = asyncio.get_running_loop().time() + timeout
        # A fetch returns what has arrived so far; the relay may still be publishing the rest.
        while len(messages) < count and (left := deadline - asyncio.get_running_loop().time()) > 0:
            with contextlib.suppress(nats.errors.TimeoutError, TimeoutError):
                messages += await reader.fetch(count - len(messages), timeout=left)
        for message in messages:
            await message.ack()
        return [Envelope.from_message(m.headers, m.data).parse() for m in messages]

    return read


@pytest.fixture
def official_headers(test_keys: TestKeys) -> dict[str, str]:
    return test_keys.headers("official", sub="official-li", name="李科长")


@pytest.fixture
def provider_headers(test_keys: TestKeys) -> Callable[[uuid.UUID], dict[str, str]]:
    def headers(provider_id: uuid.UUID) -> dict[str, str]:
        return test_keys.headers("provider_admin", provider_id=provider_id, sub=f"provider-admin-{provider_id}")

    return headers
