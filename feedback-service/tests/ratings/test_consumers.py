"""``booking.completed`` from real NATS opens exactly one rating invitation per booking."""

from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from feedback.ratings.models import InvitationStatus, RatingInvitation
from service_kit.events.contracts import BookingCompleted
from service_kit.events.envelope import Envelope
from service_kit.events.tables import inbox_event
from service_kit.testing import eventually


def runner_of(app: FastAPI) -> Any:
    (runner,) = [r for r in app.state.runtime.runners if r.durable == "feedback-rating-invitations"]
    return runner


async def invitation_count(app: FastAPI) -> int:
    async with app.state.sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(RatingInvitation))).scalar_one())


async def test_completed_booking_opens_a_pending_invitation(
    app: FastAPI,
    client: httpx.AsyncClient,
    publish: Any,
    invitation_of: Any,
    booking_completed: Callable[..., BookingCompleted],
) -> None:
    event = booking_completed()
    await publish(Envelope.wrap(event, source="booking"))

    invitation = await eventually(lambda: invitation_of(event.booking_id))

    assert invitation.status == InvitationStatus.pending
    assert invitation.resident_id == event.resident_id
    assert invitation.provider_id == event.provider_id
    assert invitation.offering_id == event.offering_id
    assert invitation.completed_at == event.occurred_at


async def test_redelivered_event_is_applied_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    publish: Any,
    invitation_of: Any,
    booking_completed: Callable[..., BookingCompleted],
) -> None:
    event = booking_completed()
    envelope = Envelope.wrap(event, source="booking")
    assert not (await publish(envelope)).duplicate
    # The same Nats-Msg-Id inside the stream's duplicate window: JetStream drops it.
    assert (await publish(envelope)).duplicate
    # Without it (a relay re-publishing later) the copy reaches the consumer: the inbox must absorb it.
    assert not (await publish(envelope, with_msg_id=False)).duplicate

    runner = runner_of(app)
    await eventually(lambda: _settled(runner, applied=1, duplicates=1))
    assert await invitation_count(app) == 1
    async with app.state.sessionmaker() as session:
        seen = await session.execute(
            select(func.count()).select_from(inbox_event).where(inbox_event.c.consumer == runner.durable)
        )
        assert seen.scalar_one() == 1


async def test_same_booking_under_a_new_event_id_opens_no_second_invitation(
    app: FastAPI,
    client: httpx.AsyncClient,
    publish: Any,
    invitation_of: Any,
    booking_completed: Callable[..., BookingCompleted],
) -> None:
    event = booking_completed()
    await publish(Envelope.wrap(event, source="booking"))
    await publish(Envelope.wrap(event, source="booking"))  # another event id, the same booking

    runner = runner_of(app)
    await eventually(lambda: _settled(runner, applied=2, duplicates=0))
    assert await invitation_count(app) == 1


async def test_a_rated_invitation_stays_rated_when_the_event_comes_again(
    app: FastAPI,
    client: httpx.AsyncClient,
    publish: Any,
    invitation_of: Any,
    booking_completed: Callable[..., BookingCompleted],
    resident_headers: Any,
) -> None:
    event = booking_completed()
    await publish(Envelope.wrap(event, source="booking"))
    await eventually(lambda: invitation_of(event.booking_id))
    assert event.resident_id is not None
    response = await client.post(
        "/api/v1/ratings",
        json={"booking_id": str(event.booking_id), "stars": 5},
        headers=resident_headers(event.resident_id),
    )
    assert response.status_code == 201, response.text

    await publish(Envelope.wrap(event, source="booking"))
    await eventually(lambda: _settled(runner_of(app), applied=2, duplicates=0))
    invitation = await invitation_of(event.booking_id)
    assert invitation is not None
    assert invitation.status == InvitationStatus.rated


async def test_completed_booking_without_a_resident_invites_nobody(
    app: FastAPI,
    client: httpx.AsyncClient,
    publish: Any,
    booking_completed: Callable[..., BookingCompleted],
) -> None:
    await publish(Envelope.wrap(booking_completed(resident_id=None), source="booking"))

    await eventually(lambda: _settled(runner_of(app), applied=1, duplicates=0))
    assert await invitation_count(app) == 0
    assert runner_of(app).dead_lettered == 0


async def _settled(runner: Any, *, applied: int, duplicates: int) -> bool:
    return bool(runner.applied == applied and runner.duplicates == duplicates)
