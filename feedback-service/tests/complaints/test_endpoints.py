"""Complaints over HTTP: filing by each channel, the whole workflow, who sees what, guarded moves, bad input."""

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from feedback.complaints.models import Complaint
from service_kit.events.contracts import ComplaintOpened, ComplaintResolved
from service_kit.testing import TestKeys, assert_problem
from service_kit.timeutil import utcnow


def complaint_body(**overrides: Any) -> dict[str, Any]:
    """A complaint about a provider: name one feedback knows (``known.provider()``) as ``target_id``."""
    body: dict[str, Any] = {
        "target_kind": "provider",
        "target_id": str(uuid.uuid4()),
        "category": "punctuality",
        "description": "送餐晚到一个小时，饭菜都凉了。",
    }
    body.update({k: str(v) if isinstance(v, uuid.UUID) else v for k, v in overrides.items()})
    return body


async def file(client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/complaints", json=complaint_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def step(
    client: httpx.AsyncClient, complaint_id: str, action: str, headers: dict[str, str], **body: Any
) -> httpx.Response:
    return await client.post(f"/api/v1/complaints/{complaint_id}/{action}", json=body or None, headers=headers)


# ------------------------------------------------------------------ filing


async def test_resident_files_a_complaint_in_the_app(
    client: httpx.AsyncClient, resident_headers: Any, read_events: Any, known: Any
) -> None:
    resident_id, provider_id = uuid.uuid4(), await known.provider()
    before = utcnow()
    complaint = await file(
        client,
        resident_headers(resident_id),
        target_id=provider_id,
        description="师傅没来，打13812345678也不接。",
        attachments=["https://img.example.cn/a.jpg", "https://img.example.cn/a.jpg"],
        severity="normal",
    )

    assert complaint["status"] == "submitted"
    assert complaint["channel"] == "app"
    assert complaint["resident_id"] == str(resident_id)
    assert complaint["provider_id"] == str(provider_id)
    assert complaint["description"] == "师傅没来，打138****5678也不接。"
    assert complaint["attachments"] == ["https://img.example.cn/a.jpg"]
    assert complaint["overdue"] is False
    filed = datetime.fromisoformat(complaint["created_at"])
    assert before <= filed <= utcnow()
    assert datetime.fromisoformat(complaint["ack_due_at"]) - filed == timedelta(hours=24)
    assert datetime.fromisoformat(complaint["resolve_due_at"]) - filed == timedelta(days=7)

    (event,) = await read_events(ComplaintOpened, 1)
    assert isinstance(event, ComplaintOpened)
    assert event.complaint_id == uuid.UUID(complaint["id"])
    assert event.resident_id == resident_id  # booking tells her of its progress
    assert (event.provider_id, event.category, event.severity, event.status) == (
        provider_id,
        "punctuality",
        "normal",
        "submitted",
    )


async def test_severity_sets_shorter_deadlines(client: httpx.AsyncClient, resident_headers: Any, known: Any) -> None:
    provider_id = await known.provider()
    complaint = await file(
        client, resident_headers(uuid.uuid4()), target_id=provider_id, severity="urgent", category="safety"
    )
    filed = datetime.fromisoformat(complaint["created_at"])
    assert datetime.fromisoformat(complaint["ack_due_at"]) - filed == timedelta(hours=2)
    assert datetime.fromisoformat(complaint["resolve_due_at"]) - filed == timedelta(hours=24)


async def test_operator_files_by_phone_for_a_resident(
    client: httpx.AsyncClient, operator_headers: dict[str, str], known: Any
) -> None:
    provider_id = await known.provider()
    assert_problem(
        await client.post("/api/v1/complaints", json=complaint_body(target_id=provider_id), headers=operator_headers),
        422,
        "resident_id_required",
    )
    resident_id = uuid.uuid4()
    complaint = await file(client, operator_headers, target_id=provider_id, resident_id=resident_id)
    assert (complaint["channel"], complaint["resident_id"], complaint["filed_by"]) == (
        "phone",
        str(resident_id),
        "operator-wang",
    )


async def test_the_callers_community_gives_the_street(
    client: httpx.AsyncClient, operator_headers: dict[str, str], resident_headers: Any, reference_data: Any
) -> None:
    provider_id = await reference_data.provider()
    by_phone = await file(
        client,
        operator_headers,
        target_id=provider_id,
        resident_id=uuid.uuid4(),
        community_code="gongchen.shidai_jiahe",
    )
    assert (by_phone["community_code"], by_phone["street_code"]) == ("gongchen.shidai_jiahe", "gongchen")
    unknown = await file(client, resident_headers(uuid.uuid4()), target_id=provider_id)
    assert (unknown["community_code"], unknown["street_code"]) == (None, None)
    shown = await client.get(f"/api/v1/complaints/{by_phone['id']}", headers=operator_headers)
    assert shown.json()["street_code"] == "gongchen"


async def test_center_staff_file_for_an_anonymous_visitor(
    client: httpx.AsyncClient, official_headers: dict[str, str], known: Any
) -> None:
    center_id = await known.center()
    complaint = await file(client, official_headers, target_kind="center", target_id=center_id, category="facility")
    assert (complaint["channel"], complaint["resident_id"], complaint["center_id"]) == ("center", None, str(center_id))


async def test_a_complaint_about_a_completed_booking_knows_its_provider(
    client: httpx.AsyncClient, complete_booking: Any, resident_headers: Any, app: FastAPI
) -> None:
    booking = await complete_booking()
    await _booking_known(app, booking.booking_id)
    complaint = await file(
        client, resident_headers(booking.resident_id), target_kind="booking", target_id=booking.booking_id
    )
    assert complaint["provider_id"] == str(booking.provider_id)
    assert complaint["offering_id"] == str(booking.offering_id)
    assert complaint["booking_id"] == str(booking.booking_id)

    # Another resident's booking is not theirs to complain about: as if it did not exist.
    refused = assert_problem(
        await client.post(
            "/api/v1/complaints",
            json=complaint_body(target_kind="booking", target_id=booking.booking_id),
            headers=resident_headers(uuid.uuid4()),
        ),
        422,
        "unknown_booking",
    )
    assert refused["errors"][0]["field"] == "target_id"


async def _booking_known(app: FastAPI, booking_id: uuid.UUID) -> None:
    from feedback.reference.models import KnownBooking
    from service_kit.testing import eventually

    async def known() -> bool:
        async with app.state.sessionmaker() as session:
            return await session.get(KnownBooking, booking_id) is not None

    await eventually(known)


# ------------------------------------------------------------------ the workflow


async def test_the_whole_workflow_with_history_and_internal_notes(
    client: httpx.AsyncClient,
    resident_headers: Any,
    official_headers: dict[str, str],
    provider_headers: Any,
    read_events: Any,
    known: Any,
) -> None:
    resident_id, provider_id = uuid.uuid4(), await known.provider()
    resident = resident_headers(resident_id)
    provider = provider_headers(provider_id)
    complaint = await file(client, resident, target_id=provider_id)
    cid = complaint["id"]

    # The provider concerned reads it but works it only once assigned.
    assert_problem(await step(client, cid, "acknowledge", provider), 403, "not_allowed")
    assigned = await client.post(
        f"/api/v1/complaints/{cid}/assign",
        json={"assignee_kind": "provider", "note": "请服务商先行核实"},
        headers=official_headers,
    )
    assert assigned.status_code == 200, assigned.text
    assert (assigned.json()["assignee_kind"], assigned.json()["assignee_id"]) == ("provider", str(provider_id))

    acknowledged = await step(client, cid, "acknowledge", provider, note="已收到，正在联系送餐员。")
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["status"] == "acknowledged"
    assert acknowledged.json()["acknowledged_at"] is not None
    investigating = await step(client, cid, "investigate", provider, note="送餐员路上车坏了", internal=True)
    assert investigating.json()["status"] == "investigating"
    resolved = await step(client, cid, "resolve", provider, note="已致歉并补送一份热饭。")
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved"

    (event,) = await read_events(ComplaintResolved, 1)
    assert event.complaint_id == uuid.UUID(cid)
    assert event.status == "resolved"

    # The complainant reads the history without the internal notes (the assignment note is internal too).
    seen = (await client.get(f"/api/v1/complaints/{cid}", headers=resident)).json()
    assert [s["action"] for s in seen["steps"]] == ["submitted", "acknowledged", "resolved"]
    assert all(not s["internal"] for s in seen["steps"])
    assert "送餐员路上车坏了" not in str(seen)
    assert (seen["steps"][0]["actor"], seen["steps"][0]["actor_role"]) == (f"resident-{resident_id}", "complainant")
    first = seen["steps"][1]
    assert (first["actor"], first["actor_role"], first["note"]) == (
        f"provider-admin-{provider_id}",
        "handler",
        "已收到，正在联系送餐员。",
    )
    # Staff and the provider see it all, with actor, time and note.
    full = (await client.get(f"/api/v1/complaints/{cid}", headers=official_headers)).json()
    assert [s["action"] for s in full["steps"]] == [
        "submitted",
        "assigned",
        "acknowledged",
        "investigating",
        "resolved",
    ]
    assert all(s["created_at"] for s in full["steps"])
    assert (await client.get(f"/api/v1/complaints/{cid}", headers=provider)).json()["steps"] == full["steps"]

    closed = await step(client, cid, "close", resident, note="满意")
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"


async def test_the_complainant_reopens_within_seven_days(
    app: FastAPI, client: httpx.AsyncClient, resident_headers: Any, official_headers: dict[str, str], known: Any
) -> None:
    resident = resident_headers(uuid.uuid4())
    cid = (await file(client, resident, target_id=await known.provider()))["id"]
    for action in ("acknowledge", "investigate", "resolve"):
        assert (await step(client, cid, action, official_headers)).status_code == 200
    reopened = await step(client, cid, "reopen", resident, note="又迟到了")
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["status"] == "reopened"
    assert (await step(client, cid, "investigate", official_headers)).json()["status"] == "investigating"
    assert (await step(client, cid, "resolve", official_headers)).json()["status"] == "resolved"

    # Eight days later the window has closed.
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(Complaint).where(Complaint.id == uuid.UUID(cid)).values(resolved_at=utcnow() - timedelta(days=8))
        )
    assert_problem(await step(client, cid, "reopen", resident), 409, "reopen_window_closed")


async def test_invalid_transitions_are_409(
    client: httpx.AsyncClient, resident_headers: Any, official_headers: dict[str, str], known: Any
) -> None:
    resident = resident_headers(uuid.uuid4())
    cid = (await file(client, resident, target_id=await known.provider()))["id"]
    assert_problem(await step(client, cid, "investigate", official_headers), 409, "invalid_transition")
    assert_problem(await step(client, cid, "close", official_headers), 409, "invalid_transition")
    assert_problem(await step(client, cid, "reopen", resident), 409, "invalid_transition")
    assert (await step(client, cid, "acknowledge", official_headers)).status_code == 200
    assert_problem(await step(client, cid, "acknowledge", official_headers), 409, "invalid_transition")
    # The complainant does not work their own complaint; an official does not reopen it for them.
    assert_problem(await step(client, cid, "resolve", resident), 403, "not_allowed")
    assert (await step(client, cid, "resolve", official_headers)).status_code == 200
    assert_problem(await step(client, cid, "reopen", official_headers), 403, "not_allowed")
    assert (await step(client, cid, "close", resident)).status_code == 200
    assert_problem(
        await client.post(
            f"/api/v1/complaints/{cid}/assign", json={"assignee_kind": "official"}, headers=official_headers
        ),
        409,
        "invalid_transition",
    )


async def test_notes_and_who_may_write_internal_ones(
    client: httpx.AsyncClient,
    resident_headers: Any,
    official_headers: dict[str, str],
    operator_headers: Any,
    known: Any,
) -> None:
    resident = resident_headers(uuid.uuid4())
    cid = (await file(client, resident, target_id=await known.provider()))["id"]
    added = await client.post(f"/api/v1/complaints/{cid}/notes", json={"note": "补充：下午三点"}, headers=resident)
    assert added.status_code == 201, added.text
    assert_problem(
        await client.post(f"/api/v1/complaints/{cid}/notes", json={"note": "x", "internal": True}, headers=resident),
        422,
        "internal_not_allowed",
    )
    internal = await client.post(
        f"/api/v1/complaints/{cid}/notes", json={"note": "老客户，优先处理", "internal": True}, headers=official_headers
    )
    assert internal.status_code == 201
    # An operator relays to the caller: they read what the resident may read.
    relayed = (await client.get(f"/api/v1/complaints/{cid}", headers=operator_headers)).json()
    assert [s["note"] for s in relayed["steps"]] == [None, "补充：下午三点"]


# ------------------------------------------------------------------ who sees what


async def test_visibility_by_role(
    client: httpx.AsyncClient,
    resident_headers: Any,
    official_headers: dict[str, str],
    provider_headers: Any,
    test_keys: TestKeys,
    known: Any,
) -> None:
    resident_id, provider_id, other_provider = uuid.uuid4(), await known.provider(), await known.provider()
    mine = await file(client, resident_headers(resident_id), target_id=provider_id)
    theirs = await file(client, resident_headers(uuid.uuid4()), target_id=other_provider)
    # Assigned to a provider it is not about: that provider sees it too.
    center_id = await known.center()
    assigned = await file(client, resident_headers(uuid.uuid4()), target_kind="center", target_id=center_id)
    response = await client.post(
        f"/api/v1/complaints/{assigned['id']}/assign",
        json={"assignee_kind": "provider", "assignee_id": str(provider_id)},
        headers=official_headers,
    )
    assert response.status_code == 200, response.text

    own = (await client.get("/api/v1/complaints", headers=resident_headers(resident_id))).json()
    assert [c["id"] for c in own["items"]] == [mine["id"]]
    assert_problem(await client.get(f"/api/v1/complaints/{theirs['id']}", headers=resident_headers(resident_id)), 404)

    providers = (await client.get("/api/v1/complaints", headers=provider_headers(provider_id))).json()
    assert {c["id"] for c in providers["items"]} == {mine["id"], assigned["id"]}
    assert providers["total"] == 2
    assert_problem(await client.get(f"/api/v1/complaints/{theirs['id']}", headers=provider_headers(provider_id)), 404)

    everything = (await client.get("/api/v1/complaints", headers=official_headers)).json()
    assert everything["total"] == 3
    by_provider = await client.get(
        "/api/v1/complaints", params={"provider_id": str(other_provider)}, headers=official_headers
    )
    assert [c["id"] for c in by_provider.json()["items"]] == [theirs["id"]]
    assert_problem(await client.get("/api/v1/complaints"), 401)
    assert_problem(await client.get("/api/v1/complaints", headers=test_keys.headers("reviewer")), 403)


async def test_officials_list_what_is_overdue(
    app: FastAPI, client: httpx.AsyncClient, resident_headers: Any, official_headers: dict[str, str], known: Any
) -> None:
    provider_id = await known.provider()
    late = await file(client, resident_headers(uuid.uuid4()), target_id=provider_id)
    await file(client, resident_headers(uuid.uuid4()), target_id=provider_id)
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(Complaint)
            .where(Complaint.id == uuid.UUID(late["id"]))
            .values(ack_due_at=utcnow() - timedelta(hours=1))
        )

    overdue = (await client.get("/api/v1/complaints/overdue", headers=official_headers)).json()
    assert [c["id"] for c in overdue["items"]] == [late["id"]]
    assert overdue["items"][0]["overdue"] is True
    filtered = (await client.get("/api/v1/complaints", params={"overdue": "false"}, headers=official_headers)).json()
    assert late["id"] not in {c["id"] for c in filtered["items"]}
    assert filtered["total"] == 1
    assert_problem(await client.get("/api/v1/complaints/overdue", headers=resident_headers(uuid.uuid4())), 403)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "change",
    [
        {"unknown": 1},
        {"category": "rudeness"},
        {"severity": "extreme"},
        {"target_kind": "street"},
        {"target_id": "not-a-uuid"},
        {"community_code": "拱辰.时代嘉禾"},
        {"community_code": ".gongchen"},
        {"community_code": "x" * 65},
        {"community_code": 7},
        {"description": ""},
        {"description": "很" * 2001},
        {"description": 42},
        {"attachments": ["http://img.example.cn/a.jpg"]},
        {"attachments": ["javascript:alert(1)"]},
        {"attachments": ["https://user:pw@img.example.cn/a.jpg"]},
        {"attachments": ["https://img.example.cn/" + "a" * 600]},
        {"attachments": [f"https://img.example.cn/{i}.jpg" for i in range(6)]},
        {"attachments": "https://img.example.cn/a.jpg"},
        {"channel": "phone"},
        {"resident_id": 12},
    ],
)
async def test_bad_complaints_are_422(client: httpx.AsyncClient, resident_headers: Any, change: dict[str, Any]) -> None:
    body = complaint_body()
    body.update(change)
    response = await client.post("/api/v1/complaints", json=body, headers=resident_headers(uuid.uuid4()))
    assert_problem(response, 422)


async def test_malformed_requests(
    client: httpx.AsyncClient,
    resident_headers: Any,
    provider_headers: Any,
    official_headers: dict[str, str],
    known: Any,
) -> None:
    headers = resident_headers(uuid.uuid4())
    response = await client.post(
        "/api/v1/complaints", content=b"{not json", headers={**headers, "content-type": "application/json"}
    )
    assert_problem(response, 422)
    assert_problem(await client.post("/api/v1/complaints", json=complaint_body()), 401)
    assert_problem(
        await client.post("/api/v1/complaints", json=complaint_body(), headers=provider_headers(uuid.uuid4())), 403
    )
    # Someone else's resident id in a resident's own complaint.
    assert_problem(
        await client.post("/api/v1/complaints", json=complaint_body(resident_id=uuid.uuid4()), headers=headers), 404
    )
    assert_problem(await client.get(f"/api/v1/complaints/{uuid.uuid4()}", headers=official_headers), 404)
    assert_problem(await client.get("/api/v1/complaints/not-a-uuid", headers=official_headers), 422)
    assert_problem(await step(client, str(uuid.uuid4()), "acknowledge", official_headers), 404)
    cid = (await file(client, headers, target_id=await known.provider()))["id"]
    assert_problem(await step(client, cid, "acknowledge", official_headers, note="x" * 1001), 422)
    assert_problem(await step(client, cid, "acknowledge", official_headers, extra=True), 422)
    assert_problem(
        await client.post(
            f"/api/v1/complaints/{cid}/assign",
            json={"assignee_kind": "provider", "assignee_id": "not-a-provider"},
            headers=official_headers,
        ),
        422,
        "assignee_required",
    )
    assert_problem(await client.get("/api/v1/complaints", params={"limit": 10**9}, headers=official_headers), 422)
