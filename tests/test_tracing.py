"""One trace across Linli, as the district's on-call staff would follow it in their tracing backend: a stack of
its own exports its spans over OTLP/HTTP to a receiver started here (the real protobuf, decoded with the
official classes), and a provider's app completes a visit with a ``traceparent`` of its own. The trace shows the
gateway, booking's handling and the event it wrote, and feedback opening the resident's rating invitation
from that event, in another process, after NATS. No span carries a phone number."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import httpx
import pytest

from service_kit.otlp_receiver import OtlpReceiver, ReceivedSpan
from service_kit.testing import DatabaseFactory

from .conftest import (
    STACK_ENV,
    DevStack,
    eventually_blocking,
    free_slots,
    login,
    own_stack,
    provider_with_offering,
    resident_in_the_app,
)

pytestmark = pytest.mark.stack

PHONE = re.compile(r"(?<![0-9A-Za-z])(\+?86)?1[3-9]\d{9}(?![0-9A-Za-z])")
COMPLETED = "linli.booking.completed.v1"


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def traced(
    tmp_path_factory: pytest.TempPathFactory, _database_factory_session: DatabaseFactory, receiver: OtlpReceiver
) -> Iterator[DevStack]:
    """A stack whose every process sends its spans to ``receiver``, in batches every 100 ms."""
    env = {**STACK_ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    with own_stack(tmp_path_factory, _database_factory_session, "tracing", env) as dev:
        yield dev


def traceparent() -> tuple[str, str]:
    """A new sampled trace's id, and the ``traceparent`` of a caller's span in it."""
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


def values(span: ReceivedSpan) -> list[str]:
    return [span.name, *(str(value) for value in span.attributes.values())]


def test_a_completed_visit_is_one_trace_from_the_gateway_to_feedbacks_invitation(
    traced: DevStack, receiver: OtlpReceiver
) -> None:
    with httpx.Client(base_url=traced.gateway_url, timeout=30.0) as gateway:
        operator = login(gateway, "operator")
        provider = provider_with_offering(gateway, "城关街道老年餐桌")
        _, resident, phone = resident_in_the_app(gateway, "赵淑芬")
        [slot] = free_slots(gateway, provider["offering_id"], operator)
        booked = gateway.post(
            "/api/v1/bookings",
            headers=operator,
            json={"offering_id": provider["offering_id"], "slot_start": slot["start"], "resident_id": resident["id"]},
        )
        assert booked.status_code == 201, booked.text
        booking_id = booked.json()["id"]
        for step in ("confirm", "start"):
            moved = gateway.post(f"/api/v1/bookings/{booking_id}/{step}", headers=provider["admin"], json={})
            assert moved.status_code == 200, moved.text

        # The provider's app completes the visit inside a trace of its own.
        trace_id, caller = traceparent()
        completed = gateway.post(
            f"/api/v1/bookings/{booking_id}/complete",
            headers={**provider["admin"], "traceparent": caller},
            json={},
        )
        assert completed.status_code == 200, completed.text

        def invited() -> bool:
            answer = gateway.get("/api/v1/rating-invitations", headers=operator, params={"resident_id": resident["id"]})
            return any(i["booking_id"] == booking_id for i in answer.json().get("items", []))

        eventually_blocking(invited, timeout=60)

    # Each process exports in its own batches: the trace is read once every process's part of it has arrived (the
    # relay's send span ends after the publish is acknowledged, and can reach the receiver after feedback's span).
    route = "/api/v1/bookings/{booking_id}/complete"
    expected = {
        ("gateway", "server", f"POST {route}"),
        ("gateway", "client", f"POST {route}"),
        ("booking", "server", f"POST {route}"),
        ("booking", "producer", f"{COMPLETED} create"),
        ("booking", "producer", f"{COMPLETED} send"),
    }

    def whole() -> list[ReceivedSpan]:
        spans = receiver.trace(trace_id)
        named = {(s.service, s.kind, s.name) for s in spans}
        groups = {s.attributes.get("messaging.consumer.group.name") for s in spans if s.kind == "consumer"}
        return spans if expected <= named and "feedback-rating-invitations" in groups else []

    spans = eventually_blocking(whole, timeout=60)
    by_id = {span.span_id: span for span in spans}

    def one(service: str, kind: str, name: str) -> ReceivedSpan:
        found = [s for s in spans if (s.service, s.kind, s.name) == (service, kind, name)]
        assert found, f"no {kind} span {name!r} from {service} in {sorted((s.service, s.name) for s in spans)}"
        return found[0]

    # The gateway continues the app's span, named by the route's template, and calls booking under it.
    edge = one("gateway", "server", f"POST {route}")
    assert edge.parent_span_id == caller.split("-")[2]
    assert (edge.attributes["http.route"], edge.attributes["http.response.status_code"]) == (route, 200)
    call = one("gateway", "client", f"POST {route}")
    assert call.parent_span_id == edge.span_id
    # Booking handles it under the gateway's call, and writes booking.completed under its own span.
    handling = one("booking", "server", f"POST {route}")
    assert handling.parent_span_id == call.span_id
    written = one("booking", "producer", f"{COMPLETED} create")
    assert by_id[written.parent_span_id].service == "booking"
    # Booking's outbox relay publishes it, and feedback's consumer opens the invitation: both in the trace.
    sent = one("booking", "producer", f"{COMPLETED} send")
    assert sent.parent_span_id == written.span_id
    invitation = [
        s
        for s in spans
        if s.service == "feedback"
        and s.kind == "consumer"
        and s.attributes["messaging.consumer.group.name"] == "feedback-rating-invitations"
    ]
    assert invitation
    assert invitation[0].name == f"{COMPLETED} process"
    assert invitation[0].parent_span_id == written.span_id
    assert not invitation[0].error

    # Nothing any process exported (this trace, the sign-ins, the resident's registration) names a phone, the
    # resident's included, or a booking's id.
    everything = receiver.received()
    assert {span.service for span in everything} >= {"gateway", "booking", "feedback", "registry"}
    leaks = [(s.service, text) for s in everything for text in values(s) if PHONE.search(text) or phone in text]
    assert leaks == []
    assert not [s for s in everything if booking_id in s.name or booking_id in str(s.attributes.get("http.route"))]
