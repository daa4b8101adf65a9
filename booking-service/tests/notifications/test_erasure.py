"""Erasing a resident in booking: their messages (and their helpers' copies, which name them) go, the responses
stored under an Idempotency-Key about them go under whoever's scope, and ``linli.resident.erased.v1`` is emitted
in the same transaction, carrying the resident id only."""

import uuid
from typing import Any

from sqlalchemy import select

from booking.notifications.models import Notification, NotificationDelivery
from booking.residents.merge import ERASED_REASON
from booking.residents.models import ResidentMerge
from service_kit.auth import GATEWAY_SUBJECT, GatewayScope
from service_kit.events.contracts import ResidentHelperGranted
from service_kit.events.tables import idempotency_record, outbox_event

RESIDENTS = "/api/v1/residents"
BOOKINGS = "/api/v1/bookings"
ERASED = "/internal/v1/resident-links/erased"


async def _erased_events(notes: Any) -> list[dict[str, Any]]:
    async with notes.sessionmaker() as session:
        rows = await session.execute(
            select(outbox_event.c.data).where(outbox_event.c.type == "linli.resident.erased.v1")
        )
        return [row.data for row in rows]


async def test_erasure_takes_her_messages_and_stored_responses_and_tells_every_service(notes: Any) -> None:
    world = notes.world
    operator = world.keys.headers("operator", sub="op-erasure", name="话务员 王芳")
    offering = await world.offering(name_zh="老年餐桌")
    registered = await world.client.post(
        RESIDENTS,
        json={
            "name": "郝淑琴",
            "phone": "13900003333",
            "address": "房山区拱辰街道时代家和社区3号楼",
            "emergency_contact": {"name": "郝建国", "phone": "13900004444", "relation": "儿子"},
            "consent": {"version": "2026-11", "channel": "phone"},
        },
        headers=operator | {"Idempotency-Key": "register-hao"},
    )
    assert registered.status_code == 201, registered.text
    parent = registered.json()
    helper = await world.resident(phone="13900005555")
    other = await world.resident(phone="13900006666")
    slot = world.at(world.tomorrow(), 10)
    booked = await world.client.post(
        BOOKINGS,
        json={"offering_id": str(offering.offering_id), "slot_start": slot.isoformat(), "resident_id": parent["id"]},
        headers=operator | {"Idempotency-Key": "book-hao"},
    )
    assert booked.status_code == 201, booked.text
    for_other = await world.client.post(
        BOOKINGS,
        json={"offering_id": str(offering.offering_id), "slot_start": slot.isoformat(), "resident_id": other["id"]},
        headers=operator | {"Idempotency-Key": "book-other"},
    )
    assert for_other.status_code == 201, for_other.text
    grant = {
        "grant_id": uuid.uuid4(),
        "resident_id": uuid.UUID(parent["id"]),
        "helper_resident_id": uuid.UUID(helper["id"]),
        "occurred_at": notes.clock(),
    }
    assert await notes.apply(ResidentHelperGranted(**grant))
    assert await notes.apply(notes.confirmed(offering, parent, slot))
    assert await notes.apply(notes.confirmed(offering, other, slot))
    (copy,) = (await notes.inbox(helper))["items"]
    assert "郝淑琴" in copy["body"]
    cancelled = await world.client.post(
        f"{BOOKINGS}/{booked.json()['id']}/cancel", json={"reason": "郝淑琴住院了"}, headers=operator
    )
    assert cancelled.status_code == 200, cancelled.text

    erased = await world.client.delete(f"{RESIDENTS}/{parent['id']}", headers=operator)
    assert erased.status_code == 204, erased.text

    # The event every other service acts on: her id, nothing of her data.
    assert await _erased_events(notes) == [{"resident_id": parent["id"]}]
    async with notes.sessionmaker() as session:
        about = {r.key: r.resident_id for r in await session.execute(select(idempotency_record))}
        messages = (await session.scalars(select(Notification))).all()
        deliveries = (await session.scalars(select(NotificationDelivery))).all()
    # The operator's registration of her and booking for her are gone; the other caller's booking stays.
    assert about == {"book-other": uuid.UUID(other["id"])}
    assert {m.resident_id for m in messages} == {uuid.UUID(other["id"])}
    assert {d.resident_id for d in deliveries} == {uuid.UUID(other["id"])}
    assert not any("郝淑琴" in m.body for m in messages)
    assert (await notes.inbox(helper))["items"] == []
    # The operator's retry of her registration runs as a new request: nothing of hers is replayed.
    retried = await world.client.post(
        RESIDENTS,
        json={"name": "新居民", "phone": "13900007777", "consent": {"version": "2026-11", "channel": "phone"}},
        headers=operator | {"Idempotency-Key": "register-hao"},
    )
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert retried.json()["name"] == "新居民"
    kept = await world.client.get(f"{BOOKINGS}/{booked.json()['id']}", headers=operator)
    assert (kept.json()["resident_id"], kept.json()["status_reason"]) == (parent["id"], None)

    # Erased once: a second erasure is refused, and no second event is emitted.
    again = await world.client.delete(f"{RESIDENTS}/{parent['id']}", headers=operator)
    assert again.status_code == 404
    assert len(await _erased_events(notes)) == 1


async def test_erasure_drops_the_reasons_given_for_merging_her_records(notes: Any) -> None:
    world = notes.world
    operator = world.keys.headers("operator")
    survivor = await world.resident(phone="13900008888")
    duplicate = await world.resident(phone="13900009999")
    merged = await world.client.post(
        f"{RESIDENTS}/{survivor['id']}/merge",
        json={"duplicate_id": duplicate["id"], "reason": "同一人王秀英，两个手机号"},
        headers=operator,
    )
    assert merged.status_code == 200, merged.text
    assert (await world.client.delete(f"{RESIDENTS}/{survivor['id']}", headers=operator)).status_code == 204
    async with notes.sessionmaker() as session:
        merge = (await session.scalars(select(ResidentMerge))).one()
    assert merge.reason == ERASED_REASON
    assert (merge.survivor_id, merge.duplicate_id) == (uuid.UUID(survivor["id"]), uuid.UUID(duplicate["id"]))


async def test_the_gateway_asks_which_of_its_accounts_records_are_erased(notes: Any) -> None:
    """The gateway's reconciliation: the erased ones among the ids it names, to the gateway's own token only."""
    world = notes.world
    operator = world.keys.headers("operator")
    erased, kept = await world.resident(phone="13900001212"), await world.resident(phone="13900001313")
    assert (await world.client.delete(f"{RESIDENTS}/{erased['id']}", headers=operator)).status_code == 204
    asked = {"resident_ids": [erased["id"], kept["id"], str(uuid.uuid4())]}
    gateway = world.keys.headers(sub=GATEWAY_SUBJECT, scope=GatewayScope.resident_links.value)
    answer = await world.client.post(ERASED, json=asked, headers=gateway)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"erased": [erased["id"]]}
    for stranger in (operator, world.keys.headers(sub=GATEWAY_SUBJECT, scope="bookings:read")):
        refused = await world.client.post(ERASED, json=asked, headers=stranger)
        assert (refused.status_code, refused.json()["code"]) == (403, "gateway_only")
    too_many = await world.client.post(
        ERASED, json={"resident_ids": [str(uuid.uuid4()) for _ in range(501)]}, headers=gateway
    )
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "resident_ids"
