"""A need has a story its author reads: received, then what procurement's ``need.progressed`` says of its group,
each step told to the notifier as ``need.status_changed``; a redelivered event changes nothing twice."""

import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from feedback.needs.models import NeedStep
from service_kit.events.contracts import NeedProgressed, NeedStatusChanged
from service_kit.events.envelope import Envelope
from service_kit.events.tables import outbox_event
from service_kit.testing import eventually
from service_kit.timeutil import utcnow

from .test_endpoints import need as need_body

MEALS = "elderly.meal_table@gongchen.shidai_jiahe"
CALL_TITLE = "2027年拱辰街道居家养老服务项目征集"
CONTRACT_TITLE = "拱辰街道老年餐桌服务合同"


def runner(app: FastAPI) -> Any:
    (found,) = [r for r in app.state.runtime.runners if r.durable == "feedback-need-progress"]
    return found


async def told(app: FastAPI) -> list[NeedStatusChanged]:
    """Every need.status_changed in the outbox, oldest first."""
    async with app.state.sessionmaker() as session:
        rows = await session.execute(
            select(outbox_event.c.data)
            .where(outbox_event.c.type == NeedStatusChanged.type)
            .order_by(outbox_event.c.seq)
        )
        return [NeedStatusChanged.model_validate(data) for (data,) in rows]


async def deliver(app: FastAPI, publish: Any, *events: NeedProgressed) -> list[Envelope]:
    """Publish as procurement's relay does; wait until the consumer has applied them all."""
    consumer = runner(app)
    before = consumer.applied
    envelopes = [Envelope.wrap(e, source="procurement") for e in events]
    for envelope in envelopes:
        await publish(envelope)

    async def applied() -> bool | None:
        return True if consumer.applied >= before + len(events) else None

    await eventually(applied)
    return envelopes


async def submit(client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/needs", json=need_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_need_is_received_then_follows_its_group_through_procurement(
    app: FastAPI,
    client: httpx.AsyncClient,
    publish: Any,
    resident_headers: Any,
    operator_headers: dict[str, str],
    official_headers: dict[str, str],
    reference_data: Any,
) -> None:
    resident_id = uuid.uuid4()
    mine = await submit(client, resident_headers(resident_id))
    assert (mine["status"], mine["status_label"]) == ("received", "已收到")
    assert [(s["status"], s["label"]) for s in mine["steps"]] == [("received", "已收到")]
    by_phone = await submit(client, operator_headers)  # no resident named: nobody to tell
    other_group = await submit(client, resident_headers(uuid.uuid4()), community_code="gongchen.haotian")
    assert [(t.need_id, t.resident_id, t.status) for t in await told(app) if t.need_id == uuid.UUID(mine["id"])] == [
        (uuid.UUID(mine["id"]), resident_id, "received")
    ]
    assert uuid.UUID(by_phone["id"]) not in {t.need_id for t in await told(app)}

    at = utcnow()
    call_id, contract_id, offering_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await deliver(
        app,
        publish,
        NeedProgressed(group_key=MEALS, status="pooled", occurred_at=at),
        NeedProgressed(
            group_key=MEALS, status="in_call", call_id=call_id, call_title=CALL_TITLE, occurred_at=at + timedelta(1)
        ),
        # Signed with funded offerings: contracted and in_service at the same moment (told in either order).
        NeedProgressed(
            group_key=MEALS,
            status="in_service",
            contract_id=contract_id,
            contract_title=CONTRACT_TITLE,
            offering_ids=(offering_id,),
            occurred_at=at + timedelta(2),
        ),
        NeedProgressed(
            group_key=MEALS,
            status="contracted",
            contract_id=contract_id,
            contract_title=CONTRACT_TITLE,
            occurred_at=at + timedelta(2),
        ),
    )

    story = await client.get(f"/api/v1/needs/{mine['id']}", headers=resident_headers(resident_id))
    assert story.status_code == 200, story.text
    need = story.json()
    assert (need["status"], need["status_label"]) == ("in_service", "附近已可预约服务")
    assert [s["label"] for s in need["steps"]] == [
        "已收到",
        "已纳入需求池",
        f"已进入项目征集：{CALL_TITLE}",
        f"已签订服务合同：{CONTRACT_TITLE}",
        "附近已可预约服务",
    ]
    assert need["steps"][2]["call_id"] == str(call_id)
    assert need["steps"][4]["offering_ids"] == [str(offering_id)]

    own = await client.get("/api/v1/needs", headers=resident_headers(resident_id))
    assert [(n["id"], n["status_label"]) for n in own.json()["items"]] == [(mine["id"], "附近已可预约服务")]
    for staff in (operator_headers, official_headers):
        seen = await client.get(f"/api/v1/needs/{by_phone['id']}", headers=staff)
        assert seen.json()["status"] == "in_service"
    stranger = await client.get(f"/api/v1/needs/{mine['id']}", headers=resident_headers(uuid.uuid4()))
    assert stranger.status_code == 404
    untouched = await client.get(f"/api/v1/needs/{other_group['id']}", headers=official_headers)
    assert [s["status"] for s in untouched.json()["steps"]] == ["received"]

    # Each step of the resident's need is told once; the operator's unnamed caller is told nothing.
    assert [t.status for t in await told(app) if t.need_id == uuid.UUID(mine["id"])] == [
        "received",
        "pooled",
        "in_call",
        "in_service",
        "contracted",
    ]
    in_call = next(t for t in await told(app) if t.status == "in_call")
    assert (in_call.resident_id, in_call.call_title) == (resident_id, CALL_TITLE)


async def test_a_redelivered_progress_changes_nothing_twice(
    app: FastAPI, client: httpx.AsyncClient, publish: Any, resident_headers: Any, reference_data: Any
) -> None:
    resident_id = uuid.uuid4()
    mine = await submit(client, resident_headers(resident_id))
    (envelope,) = await deliver(
        app,
        publish,
        NeedProgressed(group_key=MEALS, status="declined", reason="附近已有老年餐桌", occurred_at=utcnow()),
    )
    consumer = runner(app)
    duplicates = consumer.duplicates
    assert (await publish(envelope)).duplicate  # same Nats-Msg-Id: JetStream drops it
    await publish(envelope, with_msg_id=False)  # re-published after the duplicate window: the inbox absorbs it

    async def absorbed() -> bool | None:
        return True if consumer.duplicates > duplicates else None

    await eventually(absorbed)
    need = (await client.get(f"/api/v1/needs/{mine['id']}", headers=resident_headers(resident_id))).json()
    assert (need["status"], need["status_label"]) == ("declined", "暂不采纳：附近已有老年餐桌")
    assert [s["status"] for s in need["steps"]] == ["received", "declined"]
    assert [t.status for t in await told(app) if t.need_id == uuid.UUID(mine["id"])] == ["received", "declined"]
    async with app.state.sessionmaker() as session:
        steps = (await session.execute(select(NeedStep).where(NeedStep.need_id == uuid.UUID(mine["id"])))).all()
    assert len(steps) == 1


async def test_a_late_step_never_takes_the_status_back(
    app: FastAPI, client: httpx.AsyncClient, publish: Any, resident_headers: Any, reference_data: Any
) -> None:
    resident_id = uuid.uuid4()
    mine = await submit(client, resident_headers(resident_id))
    at = utcnow()
    await deliver(
        app,
        publish,
        NeedProgressed(group_key=MEALS, status="in_call", call_title=CALL_TITLE, occurred_at=at + timedelta(1)),
        NeedProgressed(group_key=MEALS, status="pooled", occurred_at=at),  # arrives late
    )
    need = (await client.get(f"/api/v1/needs/{mine['id']}", headers=resident_headers(resident_id))).json()
    assert need["status_label"] == f"已进入项目征集：{CALL_TITLE}"
    assert [s["status"] for s in need["steps"]] == ["received", "pooled", "in_call"]


async def test_a_need_received_into_a_group_in_a_call_joins_its_story(
    app: FastAPI, client: httpx.AsyncClient, publish: Any, resident_headers: Any, reference_data: Any
) -> None:
    await submit(client, resident_headers(uuid.uuid4()))
    at = utcnow()
    await deliver(
        app,
        publish,
        NeedProgressed(group_key=MEALS, status="pooled", occurred_at=at),
        NeedProgressed(group_key=MEALS, status="in_call", call_title=CALL_TITLE, occurred_at=at + timedelta(1)),
    )
    late_resident = uuid.uuid4()
    late = await submit(client, resident_headers(late_resident))
    assert (late["status"], late["status_label"]) == ("in_call", f"已进入项目征集：{CALL_TITLE}")
    assert [s["status"] for s in late["steps"]] == ["received", "pooled", "in_call"]
    # Told only that it was received: the notifier's message names what is new to the resident.
    assert [t.status for t in await told(app) if t.resident_id == late_resident] == ["received"]


async def test_an_unknown_category_is_still_refused(
    client: httpx.AsyncClient, resident_headers: Any, reference_data: Any
) -> None:
    response = await client.post(
        "/api/v1/needs", json=need_body(category_code="elderly.moon_landing"), headers=resident_headers(uuid.uuid4())
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "unknown_category"
    assert problem["errors"][0]["field"] == "category_code"
