"""A complaint names something feedback knows, and a booking the complainant had: anything else is a 422 naming
the field, and a refused complaint leaves nothing behind (no row, no step, no event, no deadline, no score)."""

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from feedback.complaints.models import Complaint, ComplaintStep
from feedback.scores.models import ScoreChange
from service_kit.events.contracts import BookingCancelled, ComplaintOpened
from service_kit.events.envelope import Envelope
from service_kit.events.tables import outbox_event
from service_kit.testing import eventually
from service_kit.timeutil import utcnow

PROBLEM = "application/problem+json"


def body(target_kind: str, target_id: uuid.UUID, **fields: Any) -> dict[str, Any]:
    return {
        "target_kind": target_kind,
        "target_id": str(target_id),
        "category": "service_quality",
        "description": "服务人员态度很差。",
        **{k: str(v) if isinstance(v, uuid.UUID) else v for k, v in fields.items()},
    }


async def nothing_created(app: FastAPI) -> None:
    async with app.state.sessionmaker() as session:
        for counted in (
            select(func.count()).select_from(Complaint),
            select(func.count()).select_from(ComplaintStep),
            select(func.count()).select_from(ScoreChange),
            select(func.count()).select_from(outbox_event).where(outbox_event.c.type == ComplaintOpened.type),
        ):
            assert (await session.execute(counted)).scalar_one() == 0


def refused(response: httpx.Response, code: str, field: str) -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["code"] == code, problem
    assert [e["field"] for e in problem["errors"]] == [field]
    assert problem["detail"].startswith(f"{field}: ")
    return str(problem["detail"])


async def post(client: httpx.AsyncClient, headers: dict[str, str], complaint: dict[str, Any]) -> httpx.Response:
    return await client.post("/api/v1/complaints", json=complaint, headers=headers)


async def test_unknown_targets_are_refused_and_leave_nothing_behind(
    app: FastAPI,
    client: httpx.AsyncClient,
    known: Any,
    resident_headers: Any,
    operator_headers: dict[str, str],
    official_headers: dict[str, str],
) -> None:
    resident_id = uuid.uuid4()
    resident = resident_headers(resident_id)
    on_phone = {"resident_id": resident_id}
    for headers, extra in ((resident, {}), (operator_headers, on_phone)):
        detail = refused(
            await post(client, headers, body("provider", uuid.uuid4(), **extra)), "unknown_provider", "target_id"
        )
        assert "yet" in detail
        refused(await post(client, headers, body("booking", uuid.uuid4(), **extra)), "unknown_booking", "target_id")
        refused(await post(client, headers, body("offering", uuid.uuid4(), **extra)), "unknown_offering", "target_id")
        refused(await post(client, headers, body("center", uuid.uuid4(), **extra)), "unknown_center", "target_id")
    # An official at a center desk is held to the same.
    refused(await post(client, official_headers, body("center", uuid.uuid4())), "unknown_center", "target_id")
    center_id = await known.center()
    refused(
        await post(client, official_headers, body("center", center_id, provider_id=uuid.uuid4())),
        "unknown_provider",
        "provider_id",
    )
    provider_id = await known.provider()
    refused(
        await post(client, resident, body("provider", provider_id, community_code="gongchen.nowhere")),
        "unknown_community",
        "community_code",
    )
    await nothing_created(app)
    listed = await client.get("/api/v1/complaints", headers=official_headers)
    assert listed.json()["total"] == 0


async def test_a_booking_complaint_names_a_booking_the_resident_had_in_any_state(
    app: FastAPI,
    client: httpx.AsyncClient,
    known: Any,
    publish: Any,
    resident_headers: Any,
    operator_headers: dict[str, str],
    official_headers: dict[str, str],
) -> None:
    resident_id, other_resident = uuid.uuid4(), uuid.uuid4()
    booking = await known.booking(resident_id)

    # Not hers: refused exactly as a booking that does not exist, for her and for an operator filing for her.
    for headers, extra in (
        (resident_headers(other_resident), {}),
        (operator_headers, {"resident_id": other_resident}),
    ):
        refused(
            await post(client, headers, body("booking", booking.booking_id, **extra)), "unknown_booking", "target_id"
        )
    # Staff filing without naming whose booking it is.
    refused(
        await post(client, official_headers, body("booking", booking.booking_id)), "resident_id_required", "resident_id"
    )
    # Another provider than the booking's.
    refused(
        await post(
            client, resident_headers(resident_id), body("booking", booking.booking_id, provider_id=uuid.uuid4())
        ),
        "provider_mismatch",
        "provider_id",
    )
    await nothing_created(app)

    # Hers, only requested: accepted, with the booking's provider and offering.
    mine = await post(client, resident_headers(resident_id), body("booking", booking.booking_id))
    assert mine.status_code == 201, mine.text
    assert (mine.json()["provider_id"], mine.json()["offering_id"]) == (
        str(booking.provider_id),
        str(booking.offering_id),
    )

    # Cancelled since: still hers to complain about, by an operator for her too.
    cancelled = BookingCancelled(**booking.model_dump() | {"status": "cancelled", "occurred_at": utcnow()})
    await publish(Envelope.wrap(cancelled, source="booking"))

    async def status() -> str | None:
        from feedback.reference.models import KnownBooking

        async with app.state.sessionmaker() as session:
            row = await session.get(KnownBooking, booking.booking_id)
            return row.status if row is not None and row.status == "cancelled" else None

    await eventually(status)
    by_phone = await post(client, operator_headers, body("booking", booking.booking_id, resident_id=resident_id))
    assert by_phone.status_code == 201, by_phone.text
    assert by_phone.json()["booking_id"] == str(booking.booking_id)


async def test_an_offering_fixes_its_provider(client: httpx.AsyncClient, known: Any, resident_headers: Any) -> None:
    offering_id, provider_id = await known.offering()
    headers = resident_headers(uuid.uuid4())
    refused(
        await post(client, headers, body("offering", offering_id, provider_id=uuid.uuid4())),
        "provider_mismatch",
        "provider_id",
    )
    filed = await post(client, headers, body("offering", offering_id))
    assert filed.status_code == 201, filed.text
    assert (filed.json()["offering_id"], filed.json()["provider_id"]) == (str(offering_id), str(provider_id))


async def test_a_suspended_provider_may_still_be_complained_about(
    client: httpx.AsyncClient, known: Any, publish: Any, resident_headers: Any, app: FastAPI
) -> None:
    from feedback.reference.models import KnownProvider
    from service_kit.events.contracts import ProviderSuspended

    provider_id = await known.provider()
    suspended = ProviderSuspended(
        provider_id=provider_id, name="夕阳红助餐", kind="public_welfare", status="suspended", reason="投诉核实"
    )
    await publish(Envelope.wrap(suspended, source="registry"))

    async def is_suspended() -> bool:
        async with app.state.sessionmaker() as session:
            row = await session.get(KnownProvider, provider_id)
            return row is not None and row.status == "suspended"

    await eventually(is_suspended)
    filed = await post(client, resident_headers(uuid.uuid4()), body("provider", provider_id))
    assert filed.status_code == 201, filed.text


@pytest.mark.parametrize("kind", ["provider", "booking"])
async def test_unknown_yet_is_known_once_the_event_arrives(
    client: httpx.AsyncClient, known: Any, resident_headers: Any, kind: str
) -> None:
    """A client that has just created the thing may be refused for a moment; the same request then succeeds."""
    resident_id, target = uuid.uuid4(), uuid.uuid4()
    complaint = body(kind, target)
    code = f"unknown_{kind}"
    assert "yet" in refused(await post(client, resident_headers(resident_id), complaint), code, "target_id")
    if kind == "provider":
        await known.provider(target)
    else:
        await known.booking(resident_id, booking_id=target)
    filed = await post(client, resident_headers(resident_id), complaint)
    assert filed.status_code == 201, filed.text
