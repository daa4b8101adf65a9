"""Webhooks through the API and the bus: a provider registers its system's endpoint, booking-service publishes
booking events on JetStream, and a real HTTP receiver on 127.0.0.1 gets signed deliveries."""

import itertools
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from standardwebhooks import Webhook
from stdnum.cn import uscc

from registry.app import SERVICE_DIR, create_app
from registry.config import Settings
from service_kit.events.contracts import BookingConfirmed, BookingCreated, EventData
from service_kit.events.envelope import Envelope
from service_kit.events.tables import inbox_event
from service_kit.testing import DatabaseFactory, TestKeys, eventually, running_app


def booking_event(
    provider_id: str, cls: type[BookingConfirmed] | type[BookingCreated] = BookingConfirmed, **fields: Any
) -> EventData:
    start = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    values: dict[str, Any] = {
        "booking_id": uuid.uuid4(),
        "offering_id": uuid.uuid4(),
        "provider_id": uuid.UUID(provider_id),
        "resident_id": uuid.uuid4(),
        "status": "confirmed" if cls is BookingConfirmed else "requested",
        "channel": "phone",
        "slot_start": start,
        "slot_end": start + timedelta(hours=1),
        "price_fen": 1500,
        "actor": "operator-7",
        "occurred_at": datetime.now(UTC),
    }
    return cls(**(values | fields))


async def register(
    client: httpx.AsyncClient, registry: Any, provider_id: str, url: str, event_types: list[str] | None = None
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/organizations/{provider_id}/webhooks",
        json={"url": url, "event_types": event_types or ["booking.*"], "description": "ERP"},
        headers=registry.provider_admin(provider_id),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def deliveries(client: httpx.AsyncClient, registry: Any, hook: dict[str, Any]) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/organizations/{hook['organization_id']}/webhooks/{hook['id']}/deliveries",
        headers=registry.provider_admin(hook["organization_id"]),
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def webhook_runner(app: FastAPI) -> Any:
    return next(r for r in app.state.runtime.runners if r.durable == "registry-webhooks")


async def applied(app: FastAPI, envelope: Envelope) -> bool:
    """Whether the webhooks consumer has applied this event (its inbox holds it)."""
    async with app.state.runtime.sessionmaker() as session:
        found = await session.execute(
            select(inbox_event.c.event_id).where(
                inbox_event.c.consumer == webhook_runner(app).durable, inbox_event.c.event_id == envelope.id
            )
        )
        return found.first() is not None


async def test_a_booking_event_reaches_the_provider_signed_as_standard_webhooks_require(
    client: httpx.AsyncClient, registry: Any, publish_event: Any, receiver: Any
) -> None:
    provider = await registry.organization()
    hook = await register(client, registry, provider["id"], receiver.url("/linli"))
    assert hook["secret"].startswith("whsec_")
    assert hook["enabled"] is True
    assert hook["event_types"] == ["booking.*"]

    event = booking_event(provider["id"])
    envelope = await publish_event(event, source="booking")
    await eventually(lambda: _async(receiver.on("/linli")))
    received = receiver.on("/linli")[0]

    # What a provider's integrator runs: the Standard Webhooks reference verifier with the secret shown once.
    payload = Webhook(hook["secret"]).verify(received.body, received.headers)
    assert payload["type"] == "booking.confirmed"
    assert payload["data"]["booking_id"] == str(event.booking_id)  # type: ignore[attr-defined]
    assert payload["data"]["status"] == "confirmed"
    assert payload["data"]["slot_start"] == "2026-12-07T03:00:00+00:00"
    assert datetime.fromisoformat(payload["timestamp"]) == envelope.time
    # Thin: ids and status, nothing about the resident, not even the opaque id.
    assert "resident_id" not in payload["data"]
    assert "actor" not in payload["data"]
    assert received.headers["content-type"] == "application/json"
    # A signature made with another secret is refused by the same verifier.
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 32).verify(received.body, received.headers)

    async def delivered() -> list[dict[str, Any]]:
        items = await deliveries(client, registry, hook)
        return items if items and items[0]["status"] == "delivered" else []

    [log] = await eventually(delivered)
    assert log["id"] == received.headers["webhook-id"]
    assert log["event_id"] == envelope.id
    assert log["event_type"] == "booking.confirmed"
    assert [(a["number"], a["status_code"], a["trigger"]) for a in log["attempts"]] == [(1, 200, "scheduled")]
    assert '"received": true' in log["attempts"][0]["response_excerpt"]

    # The secret is shown once: reads never carry it.
    shown = await client.get(
        f"/api/v1/organizations/{provider['id']}/webhooks/{hook['id']}", headers=registry.provider_admin(provider["id"])
    )
    assert shown.status_code == 200
    assert "secret" not in shown.json()


async def _async(value: Any) -> Any:
    return value


async def test_a_booking_of_one_provider_never_reaches_another_providers_endpoint(
    client: httpx.AsyncClient, app: FastAPI, registry: Any, publish_event: Any, receiver: Any
) -> None:
    provider_a = await registry.organization()
    provider_b = await registry.organization()
    hook_a = await register(client, registry, provider_a["id"], receiver.url("/a"))
    hook_b = await register(client, registry, provider_b["id"], receiver.url("/b"))
    # A's other endpoint listens to offerings only: it gets no booking either.
    hook_a_offerings = await register(client, registry, provider_a["id"], receiver.url("/a-offerings"), ["offering.*"])

    await publish_event(booking_event(provider_a["id"]), source="booking")
    await publish_event(booking_event(provider_a["id"], BookingCreated), source="booking")

    await eventually(lambda: _async(len(receiver.on("/a")) == 2))
    await eventually(lambda: _async(webhook_runner(app).applied >= 2))
    assert {json.loads(r.body)["type"] for r in receiver.on("/a")} == {"booking.confirmed", "booking.created"}
    assert receiver.on("/b") == []
    assert await deliveries(client, registry, hook_b) == []
    assert receiver.on("/a-offerings") == []
    assert len(await deliveries(client, registry, hook_a)) == 2

    # The registry's own events reach the provider they are about: publishing A's offering.
    await registry.offering(provider_a["id"], publish=True)
    await eventually(lambda: _async(receiver.on("/a-offerings")))
    body = json.loads(receiver.on("/a-offerings")[0].body)
    assert body["type"] == "offering.published"
    assert body["data"]["provider_id"] == provider_a["id"]
    assert len(await deliveries(client, registry, hook_a_offerings)) == 1
    assert receiver.on("/b") == []


async def test_an_event_redelivered_by_nats_is_delivered_once(
    client: httpx.AsyncClient, app: FastAPI, registry: Any, nats_url: str, receiver: Any
) -> None:
    provider = await registry.organization()
    hook = await register(client, registry, provider["id"], receiver.url("/once"))
    envelope = Envelope.wrap(booking_event(provider["id"]), source="booking")
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        # The same CloudEvent twice under different NATS message ids, so JetStream's duplicate window keeps
        # both and the registry's inbox is what must absorb the second.
        for _ in range(2):
            headers = envelope.headers() | {"Nats-Msg-Id": str(uuid.uuid4())}
            await js.publish(envelope.type, envelope.payload(), headers=headers)
    finally:
        await nc.close()
    runner = webhook_runner(app)
    await eventually(lambda: _async(runner.duplicates >= 1))
    await eventually(lambda: _async(receiver.on("/once")))
    assert runner.duplicates == 1
    assert len(await deliveries(client, registry, hook)) == 1
    assert len(receiver.on("/once")) == 1


async def test_a_failing_receiver_is_retried_with_backoff_until_the_schedule_ends(
    client: httpx.AsyncClient, registry: Any, publish_event: Any, receiver: Any
) -> None:
    provider = await registry.organization()
    hook = await register(client, registry, provider["id"], receiver.url("/down"))
    receiver.answer("/down", 500, 500, 500)
    await publish_event(booking_event(provider["id"]), source="booking")

    async def failed() -> list[dict[str, Any]]:
        items = await deliveries(client, registry, hook)
        return items if items and items[0]["status"] == "failed" else []

    [log] = await eventually(failed)
    # The test schedule has two waits: three attempts, then failed, with no attempt left scheduled.
    assert [(a["number"], a["status_code"]) for a in log["attempts"]] == [(1, 500), (2, 500), (3, 500)]
    assert log["attempt_count"] == 3
    assert log["next_attempt_at"] is None
    assert log["last_status_code"] == 500
    times = [datetime.fromisoformat(a["attempted_at"]) for a in log["attempts"]]
    assert all(later - earlier >= timedelta(seconds=0.025) for earlier, later in itertools.pairwise(times))
    # Every attempt carried the same webhook-id, so a receiver can dedupe.
    assert {r.headers["webhook-id"] for r in receiver.on("/down")} == {log["id"]}
    assert len(receiver.on("/down")) == 3

    # The provider's system fixed, its admin sends it again by hand: a single manual attempt, same id.
    path = f"/api/v1/organizations/{provider['id']}/webhooks/{hook['id']}/deliveries/{log['id']}/redeliver"
    response = await client.post(path, headers=registry.provider_admin(provider["id"]))
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    await eventually(lambda: _async(len(receiver.on("/down")) == 4))
    redelivered = await eventually(lambda: _delivered(client, registry, hook))
    assert [(a["number"], a["trigger"], a["status_code"]) for a in redelivered["attempts"]][-1] == (4, "manual", 200)
    Webhook(hook["secret"]).verify(receiver.on("/down")[-1].body, receiver.on("/down")[-1].headers)
    assert receiver.on("/down")[-1].headers["webhook-id"] == log["id"]


async def _delivered(client: httpx.AsyncClient, registry: Any, hook: dict[str, Any]) -> dict[str, Any] | None:
    items = await deliveries(client, registry, hook)
    return items[0] if items and items[0]["status"] == "delivered" else None


async def test_410_gone_disables_the_endpoint_until_the_provider_enables_it_again(
    client: httpx.AsyncClient, app: FastAPI, registry: Any, publish_event: Any, receiver: Any
) -> None:
    provider = await registry.organization()
    admin = registry.provider_admin(provider["id"])
    hook = await register(client, registry, provider["id"], receiver.url("/gone"))
    url = f"/api/v1/organizations/{provider['id']}/webhooks/{hook['id']}"
    receiver.answer("/gone", 410)
    await publish_event(booking_event(provider["id"]), source="booking")

    async def disabled() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(url, headers=admin)).json()
        return body if body["enabled"] is False else None

    endpoint = await eventually(disabled)
    assert "410" in endpoint["disabled_reason"]
    [log] = await deliveries(client, registry, hook)
    assert log["status"] == "failed"
    assert [a["status_code"] for a in log["attempts"]] == [410]

    # While disabled, new events queue nothing (they are acknowledged without a write: no endpoint wants them)
    # and nothing can be redelivered. The consumer takes events in order: once another provider's event that
    # follows it is applied, this one was handled.
    other = await registry.organization()
    await register(client, registry, other["id"], receiver.url("/other"))
    skipped = webhook_runner(app).skipped
    await publish_event(booking_event(provider["id"]), source="booking")
    after = await publish_event(booking_event(other["id"]), source="booking")
    await eventually(lambda: applied(app, after))
    assert webhook_runner(app).skipped > skipped
    assert len(await deliveries(client, registry, hook)) == 1
    response = await client.post(f"{url}/deliveries/{log['id']}/redeliver", headers=admin)
    assert response.status_code == 409
    assert response.json()["code"] == "webhook_disabled"

    response = await client.patch(url, json={"enabled": True}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["enabled"] is True
    assert response.json()["disabled_reason"] is None
    response = await client.post(f"{url}/deliveries/{log['id']}/redeliver", headers=admin)
    assert response.status_code == 202
    assert (await eventually(lambda: _delivered(client, registry, hook)))["attempt_count"] == 2
    unknown = await client.post(f"{url}/deliveries/{uuid.uuid4()}/redeliver", headers=admin)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "delivery_not_found"


# ------------------------------------------------------------------ who may manage, what may be registered


async def test_only_the_providers_admin_or_an_admin_manage_its_webhooks(
    client: httpx.AsyncClient, registry: Any, test_keys: TestKeys, receiver: Any
) -> None:
    provider = await registry.organization()
    other = await registry.organization()
    hook = await register(client, registry, provider["id"], receiver.url("/mine"))
    base = f"/api/v1/organizations/{provider['id']}/webhooks"
    stranger = registry.provider_admin(other["id"])
    body = {"url": receiver.url("/theirs"), "event_types": ["booking.*"]}

    # Another provider is told nothing exists.
    for method, path, json_body in (
        ("GET", base, None),
        ("POST", base, body),
        ("GET", f"{base}/{hook['id']}", None),
        ("PATCH", f"{base}/{hook['id']}", {"enabled": False}),
        ("DELETE", f"{base}/{hook['id']}", None),
        ("GET", f"{base}/{hook['id']}/deliveries", None),
        ("POST", f"{base}/{hook['id']}/rotate-secret", None),
    ):
        response = await client.request(method, path, json=json_body, headers=stranger)
        assert response.status_code == 404, (method, path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    # An official oversees providers, not their integrations; a resident even less.
    assert (await client.get(base, headers=registry.official)).status_code == 403
    assert (await client.get(base, headers=test_keys.headers("resident"))).status_code == 403
    assert (await client.get(base)).status_code == 401

    # The provider's own system (an API key exchanged at the gateway) reads, but does not manage.
    system = test_keys.headers("provider_system", provider_id=provider["id"])
    assert (await client.get(f"{base}/{hook['id']}/deliveries", headers=system)).status_code == 200
    listed = await client.get(base, headers=system)
    assert listed.status_code == 200
    assert [h["id"] for h in listed.json()["items"]] == [hook["id"]]
    refused = await client.post(base, json=body, headers=system)
    assert (refused.status_code, refused.json()["code"]) == (403, "scope_missing")
    foreign_system = test_keys.headers("provider_system", provider_id=other["id"])
    assert (await client.get(f"{base}/{hook['id']}/deliveries", headers=foreign_system)).status_code == 404

    # Changing the URL goes through the same check as registering it.
    owner = registry.provider_admin(provider["id"])
    moved = await client.patch(f"{base}/{hook['id']}", json={"url": "http://10.1.2.3/hook"}, headers=owner)
    assert moved.status_code == 422
    assert moved.json()["code"] == "webhook_url_refused"
    cleared = await client.patch(f"{base}/{hook['id']}", json={"url": None}, headers=owner)
    assert cleared.status_code == 422

    # A platform admin manages any provider's endpoints.
    admin = test_keys.headers("admin")
    assert (await client.post(base, json=body, headers=admin)).status_code == 201
    rotated = await client.post(f"{base}/{hook['id']}/rotate-secret", headers=admin)
    assert rotated.status_code == 200
    assert rotated.json()["secret"] not in (hook["secret"], None)
    assert (await client.delete(f"{base}/{hook['id']}", headers=owner)).status_code == 204
    assert (await client.get(f"{base}/{hook['id']}", headers=admin)).status_code == 404
    # An unknown organization: 404 for an admin too.
    response = await client.get(f"/api/v1/organizations/{uuid.uuid4()}/webhooks", headers=admin)
    assert response.status_code == 404
    assert response.json()["code"] == "organization_not_found"


async def test_a_providers_system_with_webhooks_manage_manages_its_own_endpoints_only(
    client: httpx.AsyncClient, registry: Any, test_keys: TestKeys, receiver: Any
) -> None:
    provider, other = await registry.organization(), await registry.organization()
    base = f"/api/v1/organizations/{provider['id']}/webhooks"
    system = test_keys.headers(
        "provider_system", provider_id=provider["id"], sub=f"api-key:{uuid.uuid4()}", scope="webhooks:manage"
    )
    created = await client.post(base, json={"url": receiver.url("/erp"), "event_types": ["booking.*"]}, headers=system)
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["secret"]
    assert (await client.get(f"{base}/{hook['id']}", headers=system)).json()["url"] == receiver.url("/erp")
    changed = await client.patch(f"{base}/{hook['id']}", json={"event_types": ["booking.confirmed"]}, headers=system)
    assert (changed.status_code, changed.json()["event_types"]) == (200, ["booking.confirmed"])
    rotated = await client.post(f"{base}/{hook['id']}/rotate-secret", headers=system)
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != hook["secret"]
    # The SSRF guard holds for a key as for a person: no private address.
    moved = await client.patch(f"{base}/{hook['id']}", json={"url": "http://10.1.2.3/hook"}, headers=system)
    assert (moved.status_code, moved.json()["code"]) == (422, "webhook_url_refused")

    # The same scope reaches no other provider's endpoints: they do not exist for it.
    theirs = await register(client, registry, other["id"], receiver.url("/theirs"))
    other_base = f"/api/v1/organizations/{other['id']}/webhooks"
    for method, path, json_body in (
        ("GET", other_base, None),
        ("POST", other_base, {"url": receiver.url("/x"), "event_types": ["booking.*"]}),
        ("PATCH", f"{other_base}/{theirs['id']}", {"enabled": False}),
        ("DELETE", f"{other_base}/{theirs['id']}", None),
        ("POST", f"{other_base}/{theirs['id']}/rotate-secret", None),
    ):
        response = await client.request(method, path, json=json_body, headers=system)
        assert response.status_code == 404, (method, path, response.text)

    assert (await client.delete(f"{base}/{hook['id']}", headers=system)).status_code == 204
    assert (await client.get(base, headers=system)).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://erp.example.cn/hook", "event_types": ["booking.teleported"]}, "event_types"),
        ({"url": "https://erp.example.cn/hook", "event_types": ["rating.submitted"]}, "event_types"),
        ({"url": "https://erp.example.cn/hook", "event_types": []}, "event_types"),
        ({"url": "https://erp.example.cn/hook", "event_types": ["booking.*"], "secret": "mine"}, "secret"),
        ({"url": "not a url", "event_types": ["booking.*"]}, "url"),
        ({"url": "file:///etc/passwd", "event_types": ["booking.*"]}, "url"),
        ({"url": "gopher://10.0.0.1:70/", "event_types": ["booking.*"]}, "url"),
        ({"url": "https://user:pass@erp.example.cn/hook", "event_types": ["booking.*"]}, "url"),
        ({"url": "http://erp.example.cn:99999/", "event_types": ["booking.*"]}, "url"),
    ],
)
async def test_malformed_registrations_are_422_naming_the_field(
    client: httpx.AsyncClient, registry: Any, body: dict[str, Any], field: str
) -> None:
    provider = await registry.organization()
    response = await client.post(
        f"/api/v1/organizations/{provider['id']}/webhooks", json=body, headers=registry.provider_admin(provider["id"])
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in {e["field"].split(".")[0] for e in response.json()["errors"]}


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://172.16.5.4/hook",
        "http://192.168.1.10:8080/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud's metadata service
        "http://[fd00:ec2::254]/",
        "http://[fe80::1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[2002:a00:1::]/",  # 6to4 around 10.0.0.1
        "http://[64:ff9b::a00:1]/",  # NAT64 around 10.0.0.1
        "http://0.0.0.0:8080/",
        "http://224.0.0.1/",
    ],
)
async def test_private_link_local_and_metadata_addresses_are_refused_even_when_loopback_is_allowed(
    client: httpx.AsyncClient, registry: Any, url: str
) -> None:
    provider = await registry.organization()
    response = await client.post(
        f"/api/v1/organizations/{provider['id']}/webhooks",
        json={"url": url, "event_types": ["booking.*"]},
        headers=registry.provider_admin(provider["id"]),
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "webhook_url_refused"
    assert problem["errors"][0]["field"] == "url"


async def test_loopback_is_refused_unless_the_setting_allows_it(
    service_env: dict[str, Any], database_factory: DatabaseFactory, test_keys: TestKeys, receiver: Any
) -> None:
    settings = Settings(**service_env, database_url=database_factory.new(SERVICE_DIR))
    assert settings.webhook_allow_loopback is False
    async with running_app(create_app(settings), wait_for_events=False) as client:
        official = test_keys.headers("official")
        response = await client.post(
            "/api/v1/organizations",
            json={"name_zh": "房山区邻里互助社", "kind": "startup", "uscc": _uscc()},
            headers=official,
        )
        provider_id = response.json()["id"]
        admin = test_keys.headers("provider_admin", provider_id=provider_id)
        port = receiver.base_url.rsplit(":", 1)[1]
        for url in (
            receiver.url("/hook"),
            f"http://localhost:{port}/hook",
            f"http://[::1]:{port}/hook",
            f"http://[::ffff:127.0.0.1]:{port}/hook",
            f"http://2130706433:{port}/hook",  # 127.0.0.1 written as one number
            f"http://0x7f.1:{port}/hook",
        ):
            response = await client.post(
                f"/api/v1/organizations/{provider_id}/webhooks",
                json={"url": url, "event_types": ["booking.*"]},
                headers=admin,
            )
            assert response.status_code == 422, (url, response.text)
            assert response.json()["code"] == "webhook_url_refused"
    assert receiver.requests == []


def _uscc() -> str:
    base = "91110111" + "".join(random.choices("0123456789ABCDEFGHJKLMNPQRTUWXY", k=9))
    return base + str(uscc.calc_check_digit(base))
