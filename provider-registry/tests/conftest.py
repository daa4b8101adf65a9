import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import nats
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.cn import uscc

from registry.app import SERVICE_DIR, create_app
from registry.config import Settings
from service_kit.db import create_engine, create_sessionmaker
from service_kit.events.contracts import EventData
from service_kit.events.envelope import Envelope
from service_kit.protection import Keyring
from service_kit.testing import TestKeys, service_fixtures

# The webhook sender looks for due deliveries once at start, then sleeps: these tests queue none (the webhook
# tests have their own settings), and on SQLite every look takes the write lock.
settings, app, client, service_dir = service_fixtures(Settings, create_app, SERVICE_DIR, webhook_poll_seconds=60)


@pytest.fixture
async def session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """A session on the test database without the app (for service and repository tests); rolled back."""
    engine = create_engine(settings.database_url)
    async with create_sessionmaker(engine, keyring=Keyring.from_settings(settings))() as session:
        yield session
        await session.rollback()
    await engine.dispose()


def new_uscc() -> str:
    """A valid Unified Social Credit Code registered in Fangshan (region 110111)."""
    base = "91110111" + "".join(random.choices("0123456789ABCDEFGHJKLMNPQRTUWXY", k=9))
    return base + uscc.calc_check_digit(base)


class Registry:
    """Builds registry data through the HTTP API, the way callers do."""

    def __init__(self, client: httpx.AsyncClient, keys: TestKeys) -> None:
        self.client = client
        self.keys = keys
        self.official = keys.headers("official")

    def new_uscc(self) -> str:
        return new_uscc()

    def provider_admin(self, provider_id: uuid.UUID | str) -> dict[str, str]:
        return self.keys.headers("provider_admin", provider_id=str(provider_id))

    async def organization(self, *, verified: bool = True, **fields: Any) -> dict[str, Any]:
        body = {"name_zh": "房山区夕阳红养老服务中心", "kind": "public_welfare", "uscc": new_uscc(), **fields}
        response = await self.client.post("/api/v1/organizations", json=body, headers=self.official)
        assert response.status_code == 201, response.text
        organization: dict[str, Any] = response.json()
        if verified:
            response = await self.client.post(
                f"/api/v1/organizations/{organization['id']}/verify", headers=self.official
            )
            assert response.status_code == 200, response.text
            organization = response.json()
        return organization

    def offering_body(self, provider_id: str, **fields: Any) -> dict[str, Any]:
        return {
            "provider_id": provider_id,
            "category_code": "elderly.meal_table",
            "name_zh": "老年餐桌午餐",
            "name_en": "Lunch at the meal table",
            "mode": "at_center",
            "price_fen": 1500,
            "duration_minutes": 60,
            "capacity_per_slot": 20,
            "weekly_rules": [{"weekday": 0, "start": "11:00", "end": "13:00"}],
            "exceptions": [{"date": "2026-12-25", "kind": "closed", "reason": "kitchen maintenance"}],
            "target_groups": ["80+", "living_alone"],
            "auto_confirm": True,
            **fields,
        }

    async def offering(self, provider_id: str, *, publish: bool = False, **fields: Any) -> dict[str, Any]:
        headers = self.provider_admin(provider_id)
        response = await self.client.post(
            "/api/v1/offerings", json=self.offering_body(provider_id, **fields), headers=headers
        )
        assert response.status_code == 201, response.text
        offering: dict[str, Any] = response.json()
        if publish:
            response = await self.client.post(f"/api/v1/offerings/{offering['id']}/publish", headers=headers)
            assert response.status_code == 200, response.text
            offering = response.json()
        return offering


@pytest.fixture
def registry(client: httpx.AsyncClient, test_keys: TestKeys) -> Registry:
    return Registry(client, test_keys)


PublishEvent = Callable[..., Awaitable[Envelope]]


@pytest.fixture
async def publish_event(nats_url: str) -> AsyncIterator[PublishEvent]:
    """Publish an event to JetStream as another service's outbox relay would."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()

    async def publish(event: EventData, *, source: str = "test", event_id: str | None = None) -> Envelope:
        envelope = Envelope.wrap(event, source=source, event_id=event_id)
        await js.publish(envelope.type, envelope.payload(), headers=envelope.headers())
        return envelope

    yield publish
    await nc.close()


ReadEvents = Callable[[str], Awaitable[list[dict[str, Any]]]]


@pytest.fixture
async def published_events(nats_url: str) -> AsyncIterator[ReadEvents]:
    """Every event of one type that reached JetStream so far, in order, as (headers + data) dicts."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()

    async def read(event_type: str) -> list[dict[str, Any]]:
        subscription = await js.pull_subscribe(event_type, stream="LINLI")
        events: list[dict[str, Any]] = []
        try:
            while True:
                try:
                    messages = await subscription.fetch(100, timeout=0.5)
                except (nats.errors.TimeoutError, TimeoutError):
                    break
                for msg in messages:
                    envelope = Envelope.from_message(msg.headers, msg.data)
                    events.append({"type": envelope.type, "source": envelope.source, "data": envelope.data})
                    await msg.ack()
        finally:
            await subscription.unsubscribe()
        return events

    yield read
    await nc.close()


@pytest.fixture
def registry_uscc() -> str:
    return new_uscc()
