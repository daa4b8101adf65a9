"""Traces through the kit: a request's span, the events it writes, and every delivery of them to a consumer.

The spans go to the SDK's in-memory exporter (a real exporter that keeps them in this process); the events go
through a real nats-server and database, as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import httpx
import pytest
import structlog
from fastapi import FastAPI
from nats.js import JetStreamContext
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanKind, StatusCode
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service_kit import tracing
from service_kit.events.consumer import ConsumerRunner
from service_kit.events.contracts import NeedSubmitted
from service_kit.events.envelope import Envelope
from service_kit.events.outbox import OutboxRelay, emit
from service_kit.events.tables import outbox_event
from service_kit.logging import configure_logging
from service_kit.testing import eventually

from .kit_service import applied_counts, need, needs_subscription

# A caller's trace (the W3C specification's example), sampled.
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert tracing.configure_tracing("kit", exporter=exporter)
    try:
        yield exporter
    finally:
        tracing.shutdown_tracing()


def finished(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    tracing.force_flush()
    return list(exporter.get_finished_spans())


@contextlib.contextmanager
def under(traceparent: str) -> Iterator[None]:
    """Code run as a request that arrived with ``traceparent`` is."""
    parent = tracing.parse_traceparent(traceparent)
    assert parent is not None
    token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(parent)))
    try:
        yield
    finally:
        otel_context.detach(token)


def test_the_envelope_carries_the_traceparent_as_the_cloudevents_extension() -> None:
    envelope = Envelope.wrap(need("x"), source="test")
    traced = Envelope(**{**envelope.__dict__, "traceparent": CALLER})
    headers = traced.headers()
    assert headers["ce-traceparent"] == CALLER
    assert "traceparent" not in headers
    assert Envelope.from_message(headers, traced.payload()) == traced
    # An untraced event has no such attribute, and reads back without one.
    assert "ce-traceparent" not in envelope.headers()
    assert Envelope.from_message(envelope.headers(), envelope.payload()).traceparent is None
    # A message written with the bare header (as Linli's envelope once did) keeps its trace.
    bare = {k: v for k, v in headers.items() if k != "ce-traceparent"} | {"traceparent": CALLER}
    assert Envelope.from_message(bare, traced.payload()).traceparent == CALLER


def test_tracing_is_off_unless_an_endpoint_is_configured() -> None:
    assert not tracing.export_configured({})
    assert tracing.export_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing.export_configured({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"})
    off = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}
    assert not tracing.export_configured(off)
    assert not tracing.enabled()
    with under(CALLER):
        assert tracing.message_traceparent(NeedSubmitted.type) is None  # nothing recorded, nothing stored


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        f"00-{'0' * 32}-00f067aa0ba902b7-01",  # all-zero trace id
        f"00-{TRACE_ID}-{'0' * 16}-01",  # all-zero span id
        f"ff-{TRACE_ID}-00f067aa0ba902b7-01",  # the forbidden version
        f"00-{TRACE_ID.upper()}-00f067aa0ba902b7-01",  # upper-case hex
    ],
)
def test_an_invalid_traceparent_starts_a_new_trace(value: str) -> None:
    assert tracing.parse_traceparent(value) is None


async def test_a_span_is_named_by_its_route_template_and_continues_the_callers_trace(
    exported: InMemorySpanExporter,
) -> None:
    app = FastAPI()

    @app.get("/residents/{resident_id}")
    async def resident(resident_id: str) -> dict[str, str]:
        return {"trace_id": tracing.current_trace_id() or ""}

    @app.get("/livez")
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    transport = httpx.ASGITransport(app=tracing.TracingMiddleware(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
        # A probe's request is not traced, even one that says it is sampled.
        assert (await client.get("/livez", headers={"traceparent": CALLER})).status_code == 200
        answer = await client.get(
            "/residents/13812345678", params={"phone": "13812345678"}, headers={"traceparent": CALLER}
        )
    assert answer.json() == {"trace_id": TRACE_ID}
    [span] = finished(exported)
    assert span.name == "GET /residents/{resident_id}"
    assert span.kind == SpanKind.SERVER
    assert span.context is not None
    assert span.parent is not None
    assert (f"{span.context.trace_id:032x}", f"{span.parent.span_id:016x}") == (TRACE_ID, "00f067aa0ba902b7")
    assert dict(span.attributes or {}) == {
        "http.request.method": "GET",
        "url.scheme": "http",
        "http.route": "/residents/{resident_id}",
        "http.response.status_code": 200,
    }


def logged(message: str) -> dict[str, object]:
    """What the kit's log configuration makes of a line logged now, before it is rendered."""
    event: dict[str, object] = {"event": message}
    for processor in structlog.get_config()["processors"][:-1]:
        event = processor(None, "warning", event)
    return event


async def test_new_traces_are_sampled_and_a_callers_decision_is_followed() -> None:
    """At a ratio of 0 nothing new is recorded, but a caller's sampled trace is, whole (parent-based); the log
    lines written under a request carry its trace id either way."""
    exporter = InMemorySpanExporter()
    assert tracing.configure_tracing("kit", tracing.TracingSettings(trace_sample_ratio=0.0), exporter=exporter)
    configure_logging("kit")
    app = FastAPI()
    lines: list[dict[str, object]] = []

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        lines.append(logged("ping answered"))
        return {}

    transport = httpx.ASGITransport(app=tracing.TracingMiddleware(app))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
            assert (await client.get("/ping")).status_code == 200
            assert (await client.get("/ping", headers={"traceparent": CALLER})).status_code == 200
        assert [span.name for span in finished(exporter)] == ["GET /ping"]
    finally:
        tracing.shutdown_tracing()
    unsampled, sampled = lines
    assert unsampled["trace_id"] not in ("", TRACE_ID)
    assert sampled["trace_id"] == TRACE_ID
    assert "trace_id" not in logged("outside any request")
    # A trace id whose hex holds a run of digits like a mobile number is logged as it is, never masked.
    digits = "ab13812345678cd0000000000000000e"
    with under(f"00-{digits}-00f067aa0ba902b7-01"):
        assert logged("under a trace")["trace_id"] == digits


def test_a_caller_that_does_not_sample_is_followed_to_the_service_and_the_events(
    exported: InMemorySpanExporter,
) -> None:
    """Every new trace is recorded here (ratio 1), but a caller's "not sampled" holds: nothing is recorded, and
    the service called and the events written are told so, in the caller's trace."""
    with under(f"00-{TRACE_ID}-00f067aa0ba902b7-00"):
        headers: dict[str, str] = {"tracestate": "vendor=1"}
        with tracing.outgoing("GET /api/v1/categories", headers):
            pass
        written = tracing.message_traceparent(NeedSubmitted.type)
    for traceparent in (headers["traceparent"], written):
        assert traceparent is not None
        version, trace_id, _, flags = traceparent.split("-")
        assert (version, trace_id, int(flags, 16) & 1) == ("00", TRACE_ID, 0)  # the sampled flag: off
    assert finished(exported) == []
    # Outside any request, the gateway's call starts a trace of its own, recorded.
    headers = {}
    with tracing.outgoing("GET /api/v1/categories", headers):
        pass
    assert int(headers["traceparent"].split("-")[3], 16) & 1
    assert TRACE_ID not in headers["traceparent"]
    assert [span.name for span in finished(exported)] == ["GET /api/v1/categories"]


async def test_a_redelivered_event_stays_in_the_trace_of_the_request_that_wrote_it(
    exported: InMemorySpanExporter, kit_sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    # A request in the caller's trace writes an event; the outbox keeps its traceparent with it.
    with under(CALLER):
        async with kit_sessionmaker() as session, session.begin():
            event_id = await emit(session, need("traced"))
    async with kit_sessionmaker() as session:
        stored = await session.scalar(select(outbox_event.c.traceparent).where(outbox_event.c.event_id == event_id))
    assert stored is not None
    assert stored.split("-")[1] == TRACE_ID

    # A relay started later (another process, after a restart) publishes it, outside any request.
    assert await OutboxRelay(kit_sessionmaker, js, source="kit-test").publish_pending() == 1

    # The consumer's handler fails the first delivery; the event is redelivered and applied.
    subscription = needs_subscription()
    record = subscription.handlers[NeedSubmitted]
    seen: list[tuple[str | None, str | None]] = []

    async def fails_once(session: AsyncSession, event: NeedSubmitted, envelope: Envelope) -> None:
        seen.append((tracing.current_trace_id(), envelope.traceparent))
        if len(seen) == 1:
            raise RuntimeError("the database went away for a moment")
        await record(session, event, envelope)

    subscription.handlers[NeedSubmitted] = fails_once
    runner = ConsumerRunner(
        subscription, service="kit", sessionmaker=kit_sessionmaker, js=js, stream="LINLI", retry_base_seconds=0.05
    )
    task = asyncio.create_task(runner.run())
    try:
        await eventually(lambda: runner.applied == 1)
    finally:
        runner.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert await applied_counts(kit_sessionmaker) == {"traced": 1}
    assert seen == [(TRACE_ID, stored), (TRACE_ID, stored)]

    spans = finished(exported)
    assert {f"{s.context.trace_id:032x}" for s in spans if s.context} == {TRACE_ID}
    by_name: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    [create] = by_name[f"{NeedSubmitted.type} create"]
    [send] = by_name[f"{NeedSubmitted.type} send"]
    first, second = sorted(
        by_name[f"{NeedSubmitted.type} process"], key=lambda s: (s.attributes or {})["messaging.message.delivery_count"]
    )
    assert create.context is not None
    assert f"{create.context.span_id:016x}" == stored.split("-")[2]
    # The relay's publish and both deliveries hang under the event's own span.
    for span in (send, first, second):
        assert span.parent is not None
        assert span.parent.span_id == create.context.span_id
    assert (first.attributes or {})["messaging.message.delivery_count"] == 1
    assert first.status.status_code == StatusCode.ERROR
    assert (second.attributes or {})["messaging.message.delivery_count"] == 2
    assert second.status.status_code == StatusCode.UNSET
    assert (second.attributes or {})["messaging.message.id"] == event_id
    assert (second.attributes or {})["messaging.consumer.group.name"] == "kit-needs"
