import asyncio
import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
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
from service_kit.events.contracts import (
    BookingCompleted,
    BookingCreated,
    CategoryUpserted,
    CommunityUpserted,
    OfferingPublished,
    ProviderVerified,
    ServiceCenterUpserted,
)
from service_kit.events.envelope import Envelope
from service_kit.testing import TestKeys, eventually, service_fixtures
from service_kit.timeutil import utcnow

# Tests take these helpers as fixtures: with importlib imports a test module cannot import from conftest.
CompleteBooking = Callable[..., Awaitable[BookingCompleted]]
Publish = Callable[..., Awaitable[PubAck]]
InvitationOf = Callable[[uuid.UUID], Awaitable[RatingInvitation | None]]


settings, app, client, service_dir = service_fixtures(Settings, create_app, SERVICE_DIR)


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
def complete_booking(
    app: FastAPI, client: httpx.AsyncClient, publish: Publish, invitation_of: InvitationOf
) -> CompleteBooking:
    """Publish a real ``booking.completed`` and wait until the feedback has opened its invitation (and knows the
    booking, which a complaint about it names)."""

    async def booking_known(booking_id: uuid.UUID) -> bool:
        from feedback.reference.models import KnownBooking

        async with app.state.sessionmaker() as session:
            return await session.get(KnownBooking, booking_id) is not None

    async def complete(**overrides: Any) -> BookingCompleted:
        event = _booking_completed(**overrides)
        await publish(Envelope.wrap(event, source="booking"))
        await eventually(lambda: invitation_of(event.booking_id))
        await eventually(lambda: booking_known(event.booking_id))
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


# ------------------------------------------------------------------ what feedback must know


class Known:
    """Makes the facts a complaint or a need names known to the feedback the way production does: publishes the
    registry's and booking-service's events to JetStream, then waits until the projection holds them."""

    def __init__(self, app: FastAPI, publish: Publish) -> None:
        self.app = app
        self.publish = publish

    async def _row(self, model: Any, key: Any) -> Any:
        async with self.app.state.sessionmaker() as session:
            return await session.get(model, key)

    async def categories(self, *codes: str, version: int = 1) -> None:
        from feedback.reference.models import KnownCategory

        for code in codes:
            parent = code.split(".", 1)[0] if "." in code else None
            event = CategoryUpserted(code=code, parent_code=parent, name_zh=f"类别 {code}", version=version)
            await self.publish(Envelope.wrap(event, source="registry"))
        for code in codes:
            await eventually(functools.partial(self._row, KnownCategory, code))

    async def communities(self, *codes: str, version: int = 1) -> None:
        from feedback.reference.models import KnownCommunity

        for code in codes:
            street = code.split(".", 1)[0]
            event = CommunityUpserted(
                code=code, street_code=street, name_zh=f"社区 {code}", lat=39.73, lng=116.15, version=version
            )
            await self.publish(Envelope.wrap(event, source="registry"))
        for code in codes:
            await eventually(functools.partial(self._row, KnownCommunity, code))

    async def center(self, center_id: uuid.UUID | None = None, *, operator_id: uuid.UUID | None = None) -> uuid.UUID:
        from feedback.reference.models import KnownCenter

        center_id = center_id or uuid.uuid4()
        event = ServiceCenterUpserted(
            center_id=center_id, name_zh="时代家和社区服务中心", operator_id=operator_id, version=1
        )
        await self.publish(Envelope.wrap(event, source="registry"))
        await eventually(lambda: self._row(KnownCenter, center_id))
        return center_id

    async def provider(self, provider_id: uuid.UUID | None = None) -> uuid.UUID:
        from feedback.reference.models import KnownProvider

        provider_id = provider_id or uuid.uuid4()
        event = ProviderVerified(provider_id=provider_id, name="夕阳红助餐", kind="public_welfare", status="verified")
        await self.publish(Envelope.wrap(event, source="registry"))
        await eventually(lambda: self._row(KnownProvider, provider_id))
        return provider_id

    async def offering(self, provider_id: uuid.UUID | None = None) -> tuple[uuid.UUID, uuid.UUID]:
        """A published offering: (offering id, provider id)."""
        from feedback.reference.models import KnownOffering

        offering_id, provider_id = uuid.uuid4(), provider_id or uuid.uuid4()
        event = OfferingPublished(
            offering_id=offering_id,
            provider_id=provider_id,
            provider_name="夕阳红助餐",
            category_code="elderly.meal_table",
            name_zh="老年餐桌午餐",
            mode="at_center",
            price_fen=1500,
            duration_minutes=60,
            capacity_per_slot=20,
            status="published",
            version=2,
        )
        await self.publish(Envelope.wrap(event, source="registry"))
        await eventually(lambda: self._row(KnownOffering, offering_id))
        return offering_id, provider_id

    async def booking(self, resident_id: uuid.UUID | None, **overrides: Any) -> BookingCreated:
        """A booking just requested by (or for) the resident: ``booking.created``."""
        from feedback.reference.models import KnownBooking

        now = utcnow()
        fields: dict[str, Any] = {
            "booking_id": uuid.uuid4(),
            "offering_id": uuid.uuid4(),
            "provider_id": uuid.uuid4(),
            "resident_id": resident_id,
            "status": "requested",
            "channel": "app",
            "slot_start": now + timedelta(days=1),
            "slot_end": now + timedelta(days=1, hours=1),
            "price_fen": 1500,
            "occurred_at": now,
        } | overrides
        event = BookingCreated(**fields)
        await self.publish(Envelope.wrap(event, source="booking"))
        await eventually(lambda: self._row(KnownBooking, event.booking_id))
        return event


@pytest.fixture
def known(app: FastAPI, client: httpx.AsyncClient, publish: Publish) -> Known:
    """The ``client``'s feedback, told of categories, communities, centers, providers, offerings and bookings."""
    return Known(app, publish)


# The taxonomy and gazetteer codes the tests name, as the registry's migrations seed them.
CATEGORIES = ("elderly", "elderly.meal_table", "elderly.day_care", "children", "green", "public_services")
COMMUNITIES = ("gongchen.shidai_jiahe", "gongchen.haotian", "changyang.bandao", "liangxiang.suzhuang")


@pytest.fixture
async def reference_data(known: Known) -> Known:
    """``known``, after the categories and communities the tests name were announced."""
    await known.categories(*CATEGORIES)
    await known.communities(*COMMUNITIES)
    return known


async def make_known(session: AsyncSession, *events: Any) -> None:
    """For service tests without NATS: apply the events the way the consumer does (in the caller's transaction)."""
    from feedback.reference import service as reference

    for event in events:
        if isinstance(event, ProviderVerified):
            await reference.store_provider(session, event, utcnow())
        elif isinstance(event, BookingCreated):
            await reference.store_booking(session, event)
        elif isinstance(event, CategoryUpserted):
            await reference.store_category(session, event)
        elif isinstance(event, CommunityUpserted):
            await reference.store_community(session, event)
        else:
            raise TypeError(f"no projection for {type(event).__name__}")


@pytest.fixture
def known_in_database() -> Callable[..., Awaitable[None]]:
    return make_known
