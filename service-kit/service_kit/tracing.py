"""Traces: one request followed from the gateway through a service, its outbox and NATS to every consumer.

OpenTelemetry, exported over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set, the standard variables a collector's operator already knows.
Unset, tracing is off: no provider, no middleware, no span, and each hook below returns at its first line.
``LINLI_TRACE_SAMPLE_RATIO`` (0–1, default 1) samples new traces; a request or event that arrives with a
``traceparent`` follows its sender's decision (parent-based), so a trace is whole or absent, never in pieces.

The W3C ``traceparent`` travels:

- from a caller to the gateway, and from the gateway to the service (``outgoing``: the gateway's own HTTP/1.1
  client, gateway/http1.py, is instrumented by hand here);
- from a service's request to the events it writes (``message_traceparent``): stored with the event in the
  outbox, so the relay that publishes it later, after a restart maybe, still knows its trace;
- from the outbox to each consumer in the CloudEvents envelope, as the distributed-tracing extension's
  ``traceparent`` attribute (``ce-traceparent`` in binary mode, service_kit/events/envelope.py).

No personal data goes into a span: names are route templates (``POST /api/v1/bookings/{booking_id}/complete``),
never paths or queries; attributes are methods, statuses, event types, consumer names and event ids. Log lines
written while a span is current carry its ``trace_id`` and ``span_id`` (``add_trace_ids``).

Spans are made with this module's own provider, never the global one: FastAPI's built-in telemetry would
otherwise start recording raw paths and query strings (where a resident's phone number may be).
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, StatusCode, TraceFlags, TraceState
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service_kit.events.envelope import traceparent_of
from service_kit.routing import route_template

# version-traceid-parentid-flags (W3C Trace Context level 1; a later version may append fields, ignored here).
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
# Asked every few seconds by probes and scrapers, about the process itself: a trace of each would bury the
# requests of residents and staff.
UNTRACED_PATHS = frozenset({"/livez", "/healthz", "/readyz", "/metrics"})


class TracingSettings(BaseSettings):
    """Linli's one tracing setting; where spans go is the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``."""

    model_config = SettingsConfigDict(env_prefix="LINLI_", extra="ignore")

    # The share of new traces recorded (a request with no sampled ``traceparent``); 0.01 records one in a hundred.
    trace_sample_ratio: float = Field(1.0, ge=0.0, le=1.0)


_provider: TracerProvider | None = None
_tracer: trace.Tracer | None = None
_ratio = 1.0
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)


def enabled() -> bool:
    return _tracer is not None


def export_configured(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment names somewhere to send spans (and does not turn the SDK off)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return any(environ.get(name, "").strip() for name in _ENDPOINT_VARIABLES)


def configure_tracing(
    service: str, settings: TracingSettings | None = None, *, exporter: SpanExporter | None = None
) -> bool:
    """Start tracing for this process as ``service`` if an OTLP endpoint is configured (or ``exporter`` given,
    as a test does); True when tracing is on. Once per process: a second call keeps the first provider."""
    global _provider, _tracer, _ratio
    if _provider is not None:
        return True
    if exporter is None:
        if not export_configured():
            return False
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()  # endpoint, headers, timeout: the standard OTEL_EXPORTER_OTLP_* variables
    # The sampler records every span ``_start`` hands it: the decisions not to record are taken there, cheaply.
    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "service.namespace": "linli"}),
        sampler=ParentBased(ALWAYS_ON),
    )
    _ratio = (settings or TracingSettings()).trace_sample_ratio
    # Spans leave in batches from a thread of their own (OTEL_BSP_* tune it); the rest are sent at exit.
    provider.add_span_processor(BatchSpanProcessor(exporter))
    _provider = provider
    _tracer = provider.get_tracer("linli")
    return True


def shutdown_tracing() -> None:
    """Send what is left and turn tracing off (a test's own provider; a process's is flushed at its exit)."""
    global _provider, _tracer
    provider, _provider, _tracer = _provider, None, None
    if provider is not None:
        provider.shutdown()


def force_flush() -> None:
    if _provider is not None:
        _provider.force_flush()


# ------------------------------------------------------------------ traceparent


def _start(
    tracer: trace.Tracer,
    name: str,
    context: otel_context.Context | None,
    kind: SpanKind,
    attributes: Mapping[str, str | int] | None = None,
) -> Span:
    """A span under ``context`` (the current one when None), sampled parent-based at ``_ratio``.

    What is not recorded (at 1%, nearly every request) never reaches the SDK, whose sampling path costs some
    10 µs a span: the span under an unsampled parent, or a new trace not drawn, is a non-recording span with ids
    of its own, which carries the decision on in its ``traceparent`` (flags 00)."""
    parent = trace.get_current_span(context).get_span_context()
    if parent.is_valid:
        if not parent.trace_flags.sampled:
            return NonRecordingSpan(
                SpanContext(parent.trace_id, _span_id(), False, parent.trace_flags, parent.trace_state)
            )
    elif _ratio < 1.0 and random.random() >= _ratio:
        return NonRecordingSpan(SpanContext(random.getrandbits(128) or 1, _span_id(), False, _NOT_SAMPLED))
    return tracer.start_span(name, context=context, kind=kind, attributes=attributes)


def _span_id() -> int:
    return random.getrandbits(64) or 1


def format_traceparent(span_context: SpanContext) -> str:
    return f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-{int(span_context.trace_flags):02x}"


def parse_traceparent(value: str | None, tracestate: str | None = None) -> SpanContext | None:
    """The remote span context a ``traceparent`` names; None when it is absent or not a valid one."""
    if not value:
        return None
    found = _TRACEPARENT.match(value.strip())
    if found is None:
        return None
    version, trace_id, span_id, flags, rest = found.groups()
    if version == "ff" or (version == "00" and rest) or set(trace_id) == {"0"} or set(span_id) == {"0"}:
        return None
    state = TraceState.from_header([tracestate]) if tracestate else None
    return SpanContext(int(trace_id, 16), int(span_id, 16), True, TraceFlags(int(flags, 16)), state)


def _context_of(traceparent: str | None, tracestate: str | None = None) -> otel_context.Context:
    parent = parse_traceparent(traceparent, tracestate)
    if parent is None:
        return otel_context.Context()  # a new trace
    return trace.set_span_in_context(NonRecordingSpan(parent), otel_context.Context())


def current_trace_id() -> str | None:
    span_context = trace.get_current_span().get_span_context()
    return f"{span_context.trace_id:032x}" if span_context.is_valid else None


def add_trace_ids(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the current span's ``trace_id`` and ``span_id`` on every line written under it."""
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event_dict.setdefault("trace_id", f"{span_context.trace_id:032x}")
        event_dict.setdefault("span_id", f"{span_context.span_id:016x}")
    return event_dict


def _fail(span: Span, exc: BaseException) -> None:
    if span.is_recording():
        span.set_attribute("error.type", type(exc).__qualname__)
        span.set_status(StatusCode.ERROR)


# ------------------------------------------------------------------ HTTP: the server side


def _trace_headers(scope: Scope) -> tuple[str | None, str | None]:
    """The request's ``traceparent`` and ``tracestate`` (the first of each), in one pass over its headers."""
    traceparent = tracestate = None
    for key, value in scope["headers"]:
        if key == b"traceparent":
            traceparent = traceparent or value.decode("latin-1")
        elif key == b"tracestate":
            tracestate = tracestate or value.decode("latin-1")
    return traceparent, tracestate


class TracingMiddleware:
    """A SERVER span for each HTTP request, continuing the caller's ``traceparent``. Named by its route template
    (the matched route's, or what the gateway's proxy names with ``name_route``); never by its path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracer = _tracer
        if tracer is None or scope["type"] != "http" or scope["path"] in UNTRACED_PATHS:
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        parent = _context_of(*_trace_headers(scope))
        span = _start(
            tracer,
            method,
            parent,
            SpanKind.SERVER,
            {"http.request.method": method, "url.scheme": scope.get("scheme", "http")},
        )
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        if not span.is_recording():
            # Only its ids are of use (the calls and events under it, the log lines' trace_id).
            try:
                await self.app(scope, receive, send)
            finally:
                otel_context.detach(token)
            return
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except BaseException as exc:
            _fail(span, exc)
            raise
        finally:
            template = route_template(scope)
            if template is not None:
                name_route(method, template, span)
            if status:
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(StatusCode.ERROR)
            span.end()
            otel_context.detach(token)


def name_route(method: str, template: str, span: Span | None = None) -> None:
    """Name the current request's span by its route template (the gateway's proxy knows it from its policy)."""
    if _tracer is None:
        return
    span = span or trace.get_current_span()
    if span.is_recording():
        span.update_name(f"{method} {template}")
        span.set_attribute("http.route", template)


# ------------------------------------------------------------------ HTTP: the client side (the gateway's)


@contextmanager
def outgoing(
    name: str, headers: MutableMapping[str, str], attributes: Mapping[str, str | int] | None = None
) -> Iterator[Span | None]:
    """A CLIENT span around a call to a service, its ``traceparent`` put in ``headers`` (replacing the caller's:
    the service's span is this one's child). Yields None, and leaves ``headers`` alone, when tracing is off."""
    tracer = _tracer
    if tracer is None:
        yield None
        return
    current = trace.get_current_span()
    # Under a request not recorded, the service is told so with the request's own ids: no span is made.
    unrecorded = not current.is_recording() and current.get_span_context().is_valid
    span = current if unrecorded else _start(tracer, name, None, SpanKind.CLIENT, attributes)
    span_context = span.get_span_context()
    headers["traceparent"] = format_traceparent(span_context)
    if span_context.trace_state:
        headers["tracestate"] = span_context.trace_state.to_header()
    elif "tracestate" in headers:
        del headers["tracestate"]
    if span is current:
        yield span
        return
    try:
        yield span
    except BaseException as exc:
        _fail(span, exc)
        raise
    finally:
        span.end()


# ------------------------------------------------------------------ events: outbox, relay, consumers


def message_traceparent(event_type: str) -> str | None:
    """The ``traceparent`` an event written now carries: a PRODUCER span (``<type> create``) under the current
    one, the event's own place in the trace. None when tracing is off or nothing is being traced."""
    tracer = _tracer
    if tracer is None or not trace.get_current_span().get_span_context().is_valid:
        return None
    span = _start(
        tracer,
        f"{event_type} create",
        None,
        SpanKind.PRODUCER,
        {"messaging.system": "nats", "messaging.operation.type": "create", "cloudevents.event_type": event_type},
    )
    span.end()
    return format_traceparent(span.get_span_context())


def start_sends(events: Sequence[tuple[str, str, str | None]]) -> list[Span | None]:
    """A span for each outbox row the relay publishes, ``(event id, type, stored traceparent)``, in the event's
    trace: what it waited and how long JetStream took. None for a row with no trace, or when tracing is off."""
    tracer = _tracer
    if tracer is None:
        return [None] * len(events)
    spans: list[Span | None] = []
    for event_id, event_type, traceparent in events:
        parent = parse_traceparent(traceparent)
        if parent is None:
            spans.append(None)
            continue
        spans.append(
            _start(
                tracer,
                f"{event_type} send",
                trace.set_span_in_context(NonRecordingSpan(parent), otel_context.Context()),
                SpanKind.PRODUCER,
                {
                    "messaging.system": "nats",
                    "messaging.operation.type": "send",
                    "messaging.destination.name": event_type,
                    "messaging.message.id": event_id,
                },
            )
        )
    return spans


def end_sends(spans: Sequence[Span | None], results: Sequence[object]) -> None:
    for span, result in zip(spans, results, strict=True):
        if span is None:
            continue
        if isinstance(result, BaseException):
            _fail(span, result)
        span.end()


@contextmanager
def consuming(headers: Mapping[str, str] | None, subject: str, consumer: str, deliveries: int) -> Iterator[Span | None]:
    """A CONSUMER span (``<type> process``) for one delivery of an event to ``consumer``, in the trace the
    event's ``traceparent`` names: a redelivery is one more span in the same trace, its ``deliveries`` told."""
    tracer = _tracer
    if tracer is None:
        yield None
        return
    headers = headers or {}
    parent = _context_of(traceparent_of(headers))
    span = _start(
        tracer,
        f"{subject} process",
        parent,
        SpanKind.CONSUMER,
        {
            "messaging.system": "nats",
            "messaging.operation.type": "process",
            "messaging.destination.name": subject,
            "messaging.consumer.group.name": consumer,
            "messaging.message.id": headers.get("ce-id", ""),
            "messaging.message.delivery_count": deliveries,
        },
    )
    token = otel_context.attach(trace.set_span_in_context(span, parent))
    try:
        yield span
    except BaseException as exc:
        _fail(span, exc)
        raise
    finally:
        span.end()
        otel_context.detach(token)


def record_failure(exc: BaseException) -> None:
    """Mark the current span failed (a consumer's handler failed; the event is retried or dead-lettered)."""
    _fail(trace.get_current_span(), exc)
