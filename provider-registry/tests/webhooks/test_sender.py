"""The sender without the app around it: deliveries written straight to the database, senders driven by hand,
so that races (two replicas, a sender outliving its lease) and a DNS answer changing since registration can be
set up exactly."""

import asyncio
import ipaddress
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook
from stdnum.cn import uscc

from registry.app import SERVICE_DIR
from registry.config import DEFAULT_WEBHOOK_RETRY_SCHEDULE, Settings
from registry.organizations.models import Organization, OrganizationKind, OrganizationStatus
from registry.webhooks import guard, repository, service
from registry.webhooks.models import SEALED as webhook_secrets
from registry.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from registry.webhooks.schemas import WebhookEndpointCreate
from registry.webhooks.sender import Outcome, WebhookSender, next_wait
from registry.webhooks.signing import WEBHOOK_SECRET
from service_kit import migrations
from service_kit.auth import Principal, Role
from service_kit.db import create_engine, create_sessionmaker
from service_kit.errors import Conflict
from service_kit.protection import Keyring, reseal
from service_kit.testing import Clock
from service_kit.timeutil import utcnow

ADMIN = Principal(subject="admin-1", roles=frozenset({Role.admin}))


@pytest.fixture
async def sessionmaker(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(settings.database_url)
    yield create_sessionmaker(engine, keyring=Keyring.from_settings(settings))
    await engine.dispose()


async def new_provider(sessionmaker: async_sessionmaker[AsyncSession]) -> uuid.UUID:
    base = "91110111" + uuid.uuid4().hex[:9].upper().replace("I", "1").replace("O", "0")
    base = base.replace("S", "5").replace("V", "7").replace("Z", "2")
    organization = Organization(
        name_zh="房山区长阳镇居家养老服务站",
        kind=OrganizationKind.commercial,
        uscc=base + uscc.calc_check_digit(base),
        status=OrganizationStatus.verified,
        applied_by="test",
    )
    async with sessionmaker() as session, session.begin():
        session.add(organization)
    return organization.id


async def new_endpoint(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, provider_id: uuid.UUID, url: str
) -> tuple[uuid.UUID, str]:
    async with sessionmaker() as session, session.begin():
        endpoint, secret = await service.create(
            session,
            provider_id,
            WebhookEndpointCreate(url=url, event_types=["booking.*"]),
            by=ADMIN,
            settings=settings,
        )
    return endpoint.id, secret


async def queue(
    sessionmaker: async_sessionmaker[AsyncSession], endpoint_id: uuid.UUID, provider_id: uuid.UUID, count: int = 1
) -> list[uuid.UUID]:
    now = utcnow()
    ids = [uuid.uuid4() for _ in range(count)]
    async with sessionmaker() as session, session.begin():
        await repository.add_deliveries(
            session,
            [
                {
                    "id": delivery_id,
                    "endpoint_id": endpoint_id,
                    "organization_id": provider_id,
                    "event_id": str(uuid.uuid4()),
                    "event_type": "booking.confirmed",
                    "payload": {"type": "booking.confirmed", "timestamp": now.isoformat(), "data": {"n": n}},
                    "status": DeliveryStatus.pending,
                    "trigger": "scheduled",
                    "attempt_count": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for n, delivery_id in enumerate(ids)
            ],
        )
    return ids


async def one_pass(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> int:
    """A sender's pass over the deliveries that are due, the sender closed after: how many it sent."""
    sender = WebhookSender(sessionmaker, settings)
    try:
        return await sender.send_due()
    finally:
        await sender.close()


async def attempts(sessionmaker: async_sessionmaker[AsyncSession]) -> list[WebhookAttempt]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.number))).all())


async def delivery(sessionmaker: async_sessionmaker[AsyncSession], delivery_id: uuid.UUID) -> WebhookDelivery:
    async with sessionmaker() as session:
        found = await session.get(WebhookDelivery, delivery_id)
        assert found is not None
        return found


def test_the_default_schedule_spans_about_three_days_with_jitter() -> None:
    schedule = DEFAULT_WEBHOOK_RETRY_SCHEDULE
    assert timedelta(days=1.9) <= timedelta(seconds=sum(schedule) / 2)
    assert timedelta(seconds=sum(schedule)) <= timedelta(days=4)
    assert timedelta(seconds=sum(schedule) * 0.75) == pytest.approx(timedelta(days=3), rel=0.05)
    for attempts_made, nominal in enumerate(schedule, start=1):
        waits = [next_wait(schedule, attempts_made) for _ in range(200)]
        assert all(w is not None and nominal / 2 <= w <= nominal for w in waits)
        assert len(set(waits)) > 100  # jittered, not fixed
    assert next_wait(schedule, len(schedule) + 1) is None


async def test_an_address_that_became_unsafe_after_registration_is_refused_at_send_time(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, receiver: Any
) -> None:
    provider_id = await new_provider(sessionmaker)
    # Registered while the host was acceptable (here: loopback allowed); now it no longer is, as when a
    # provider's DNS name starts answering with an internal address.
    endpoint_id, _secret = await new_endpoint(sessionmaker, settings, provider_id, receiver.url("/rebound"))
    port = receiver.base_url.rsplit(":", 1)[1]
    by_name, _ = await new_endpoint(sessionmaker, settings, provider_id, f"http://localhost:{port}/rebound")
    [first] = await queue(sessionmaker, endpoint_id, provider_id)
    [second] = await queue(sessionmaker, by_name, provider_id)

    strict = settings.model_copy(update={"webhook_allow_loopback": False})
    sender = WebhookSender(sessionmaker, strict)
    try:
        assert await sender.send_due() == 2
    finally:
        await sender.close()
    assert receiver.requests == []
    for delivery_id in (first, second):
        row = await delivery(sessionmaker, delivery_id)
        assert row.status == DeliveryStatus.pending  # retried later: DNS may change back
        assert row.attempt_count == 1
    recorded = await attempts(sessionmaker)
    assert len(recorded) == 2
    assert all(a.status_code is None and "loopback" in (a.error or "") for a in recorded)


async def test_two_senders_never_make_the_same_attempt(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, receiver: Any
) -> None:
    provider_id = await new_provider(sessionmaker)
    endpoint_id, _ = await new_endpoint(sessionmaker, settings, provider_id, receiver.url("/replicas"))
    ids = await queue(sessionmaker, endpoint_id, provider_id, count=40)

    # Two registry replicas: their own engines (connection pools) and sender ids, racing on one database.
    small_batches = settings.model_copy(update={"webhook_batch_size": 7})
    engines = [create_engine(settings.database_url) for _ in range(2)]
    senders = [WebhookSender(create_sessionmaker(engine), small_batches) for engine in engines]
    try:
        for _ in range(20):
            await asyncio.gather(*(s.send_due() for s in senders))
            if len(receiver.on("/replicas")) >= 40:
                break
    finally:
        for sender in senders:
            await sender.close()
        for engine in engines:
            await engine.dispose()

    per_id = Counter(r.headers["webhook-id"] for r in receiver.on("/replicas"))
    assert per_id == Counter({str(i): 1 for i in ids})
    recorded = await attempts(sessionmaker)
    assert sorted(str(a.delivery_id) for a in recorded) == sorted(str(i) for i in ids)
    assert {a.number for a in recorded} == {1}
    assert sum(s.attempts_made for s in senders) == 40
    async with sessionmaker() as session:
        delivered = await session.scalar(
            select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == DeliveryStatus.delivered)
        )
    assert delivered == 40


async def test_a_sender_that_outlives_its_lease_does_not_record_a_second_attempt(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, receiver: Any
) -> None:
    provider_id = await new_provider(sessionmaker)
    endpoint_id, _ = await new_endpoint(sessionmaker, settings, provider_id, receiver.url("/slow"))
    [delivery_id] = await queue(sessionmaker, endpoint_id, provider_id)

    # Both senders' time moves only when the test moves it: the lease's margin cannot be eaten by a slow machine.
    clock = Clock(utcnow())
    short_lease = settings.model_copy(update={"webhook_lease_seconds": 3.0})
    stalled = WebhookSender(sessionmaker, short_lease, clock=clock)
    other = WebhookSender(sessionmaker, short_lease, clock=clock)
    try:
        # The first sender claims the delivery, then stalls (a long GC pause, a hung connection) ...
        async with sessionmaker() as session, session.begin():
            [row] = await repository.claim_due(
                session, owner=stalled.owner, now=clock(), lease_until=clock() + timedelta(seconds=3.0), limit=10
            )
        # ... while its lease holds, nobody else takes it;
        clock.advance(seconds=2.9)
        assert await other.send_due() == 0
        clock.advance(seconds=0.2)
        # after it, another replica does, and records the attempt.
        assert await other.send_due() == 1
        # The stalled sender wakes up: its outcome is dropped, not recorded as a second attempt.
        await stalled._record(row, Outcome(200, "late", None, 5), clock())
    finally:
        await stalled.close()
        await other.close()
    recorded = await attempts(sessionmaker)
    assert [(a.number, a.status_code) for a in recorded] == [(1, 200)]
    assert (await delivery(sessionmaker, delivery_id)).attempt_count == 1
    assert len(receiver.on("/slow")) == 1


async def test_after_a_rotation_both_secrets_sign_for_a_day(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, receiver: Any
) -> None:
    provider_id = await new_provider(sessionmaker)
    endpoint_id, old_secret = await new_endpoint(sessionmaker, settings, provider_id, receiver.url("/rotating"))
    async with sessionmaker() as session, session.begin():
        _, new_secret = await service.rotate_secret(session, provider_id, endpoint_id, by=ADMIN, settings=settings)
    await queue(sessionmaker, endpoint_id, provider_id)
    assert await one_pass(sessionmaker, settings) == 1
    [received] = receiver.on("/rotating")
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    for secret in (new_secret, old_secret):
        assert Webhook(secret).verify(received.body, received.headers)["type"] == "booking.confirmed"


async def test_a_data_key_rotation_keeps_every_endpoint_signing(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], receiver: Any
) -> None:
    """Secrets sealed under the first data key still sign once a second replaces it; the worker's pass seals them
    again with the second, after which the first can be dropped from the settings."""
    provider_id = await new_provider(sessionmaker)
    endpoint_id, secret = await new_endpoint(sessionmaker, settings, provider_id, receiver.url("/rotated-key"))
    first = settings.data_key
    rotated = settings.model_copy(
        update={"data_key": SecretStr("the-second-data-key-0123456789abcdef"), "data_keys_retired": [first]}
    )
    rotated = rotated.model_copy(update={"data_index_key": first})
    engine = create_engine(settings.database_url)
    after_rotation = create_sessionmaker(engine, keyring=Keyring.from_settings(rotated))
    try:
        await queue(after_rotation, endpoint_id, provider_id)
        sender = WebhookSender(after_rotation, rotated)
        try:
            assert await sender.send_due() == 1  # the retired key still opens the secret
        finally:
            await sender.close()
        assert await reseal(after_rotation, webhook_secrets, batch=10) == 1
        assert await reseal(after_rotation, webhook_secrets, batch=10) == 0  # nothing left for the first key
        only_second = rotated.model_copy(update={"data_keys_retired": []})
        await queue(after_rotation, endpoint_id, provider_id)
        sender = WebhookSender(after_rotation, only_second)
        try:
            assert await sender.send_due() == 1
        finally:
            await sender.close()
    finally:
        await engine.dispose()
    received = receiver.on("/rotated-key")
    assert len(received) == 2
    for request in received:
        assert Webhook(secret).verify(request.body, request.headers)["type"] == "booking.confirmed"


async def test_a_delivery_still_scheduled_cannot_be_queued_again(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, receiver: Any
) -> None:
    provider_id = await new_provider(sessionmaker)
    endpoint_id, _ = await new_endpoint(sessionmaker, settings, provider_id, receiver.url("/pending"))
    [delivery_id] = await queue(sessionmaker, endpoint_id, provider_id)
    async with sessionmaker() as session:
        with pytest.raises(Conflict) as refused:
            await service.redeliver(session, provider_id, endpoint_id, delivery_id, by=ADMIN)
    assert refused.value.code == "delivery_pending"


async def test_the_log_keeps_finished_deliveries_for_the_retention_period_only(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, receiver: Any
) -> None:
    provider_id = await new_provider(sessionmaker)
    endpoint_id, _ = await new_endpoint(sessionmaker, settings, provider_id, receiver.url("/old"))
    old, recent, still_pending = await queue(sessionmaker, endpoint_id, provider_id, count=3)
    sender = WebhookSender(sessionmaker, settings)
    try:
        assert await sender.send_due() == 3
        async with sessionmaker() as session, session.begin():
            await repository.request_redelivery(session, still_pending, at=utcnow() + timedelta(days=1))
            for delivery_id, age in ((old, 31), (recent, 29), (still_pending, 90)):
                row = await session.get(WebhookDelivery, delivery_id)
                assert row is not None
                row.created_at = utcnow() - timedelta(days=age)
        await sender.purge_log()
    finally:
        await sender.close()
    async with sessionmaker() as session:
        kept = set((await session.scalars(select(WebhookDelivery.id))).all())
    assert kept == {recent, still_pending}
    assert {a.delivery_id for a in await attempts(sessionmaker)} == {recent, still_pending}


def test_loopback_is_a_setting_for_tests_never_for_production(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().webhook_allow_loopback is False
    monkeypatch.setenv("LINLI_REGISTRY_WEBHOOK_ALLOW_LOOPBACK", "true")
    assert Settings().webhook_allow_loopback is True
    with pytest.raises(ValueError, match="never production"):
        Settings(
            environment="production",
            data_key="a-production-data-key-0123456789abcdef",
            public_base_url="https://linli.fangshan.example",
        )


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    async def resolve(host: str, port: int) -> list[Any]:
        if host in answers:
            return [ipaddress.ip_address(a) for a in answers[host]]
        return [ipaddress.ip_address(host)]

    monkeypatch.setattr(guard, "resolve", resolve)


async def test_a_name_that_resolves_to_a_private_address_by_send_time_is_not_called(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider_id = await new_provider(sessionmaker)
    fake_dns(monkeypatch, {"erp.provider.test": ["93.184.216.34"]})
    endpoint_id, _ = await new_endpoint(sessionmaker, settings, provider_id, "https://erp.provider.test/hook")
    [delivery_id] = await queue(sessionmaker, endpoint_id, provider_id)
    # DNS rebinding: the name now answers with an internal address beside the public one.
    fake_dns(monkeypatch, {"erp.provider.test": ["93.184.216.34", "10.0.0.5"]})
    assert await one_pass(sessionmaker, settings) == 1
    [attempt] = await attempts(sessionmaker)
    assert attempt.status_code is None
    assert "10.0.0.5 is a private address" in (attempt.error or "")
    assert (await delivery(sessionmaker, delivery_id)).status == DeliveryStatus.pending


async def test_a_dual_stack_host_is_reached_on_its_next_checked_address(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    receiver: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider_id = await new_provider(sessionmaker)
    port = receiver.base_url.rsplit(":", 1)[1]
    # The first address published refuses connections (nothing listens on 127.0.0.2); the second answers.
    fake_dns(monkeypatch, {"erp.provider.test": ["127.0.0.2", "127.0.0.1"]})
    endpoint_id, secret = await new_endpoint(sessionmaker, settings, provider_id, f"http://erp.provider.test:{port}/x")
    await queue(sessionmaker, endpoint_id, provider_id)
    assert await one_pass(sessionmaker, settings) == 1
    [received] = receiver.on("/x")
    assert received.headers["host"] == f"erp.provider.test:{port}"
    Webhook(secret).verify(received.body, received.headers)
    [attempt] = await attempts(sessionmaker)
    assert attempt.status_code == 200


async def test_secrets_sealed_before_the_keyring_are_sealed_again_by_the_migration(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], receiver: Any
) -> None:
    """Revision 0011 moves the secrets from the registry's own sealing (v1) to the keyring (v2), and back."""
    provider_id = await new_provider(sessionmaker)
    endpoint_id, secret = await new_endpoint(sessionmaker, settings, provider_id, receiver.url("/migrated"))

    async def stored() -> str:
        async with sessionmaker() as session:
            found = await session.scalar(select(WebhookEndpoint.secret_sealed).where(WebhookEndpoint.id == endpoint_id))
            return str(found)

    await asyncio.to_thread(migrations.downgrade, SERVICE_DIR, settings.database_url, "0010")
    before = await stored()
    assert before.startswith("v1:")
    assert secret not in before
    await asyncio.to_thread(migrations.upgrade, SERVICE_DIR, settings.database_url)
    after = await stored()
    assert after.startswith(Keyring.from_settings(settings).current_prefix)
    assert Keyring.from_settings(settings).open(WEBHOOK_SECRET, after) == secret
