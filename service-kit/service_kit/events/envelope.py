"""CloudEvents 1.0 in binary mode over NATS: attributes in ``ce-*`` headers, the payload as JSON data.

An event's trace travels as the distributed-tracing extension's ``traceparent`` attribute, so in
``ce-traceparent`` (service_kit/tracing.py); the bare ``traceparent`` header Linli wrote before is read too."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from service_kit.events.contracts import EVENT_TYPES, EventData
from service_kit.timeutil import utcnow

# The CloudEvents distributed-tracing extension's attribute, in binary mode.
TRACEPARENT_HEADER = "ce-traceparent"


def traceparent_of(headers: Mapping[str, str]) -> str | None:
    """The event's ``traceparent``: the extension attribute, or the bare header earlier messages carry."""
    value = headers.get(TRACEPARENT_HEADER) or headers.get("traceparent")
    return value or None


class MalformedEvent(ValueError):
    """A message that is not a Linli CloudEvent (missing attributes, unknown type, payload not matching)."""


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    source: str
    time: datetime
    data: dict[str, Any]
    subject: str | None = None
    traceparent: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def wrap(cls, event: EventData, *, source: str, event_id: str | None = None) -> Envelope:
        return cls(
            id=event_id or str(uuid.uuid4()),
            type=event.type,
            source=source,
            time=utcnow(),
            data=event.model_dump(mode="json"),
            subject=event.subject(),
        )

    def headers(self) -> dict[str, str]:
        headers = {
            "ce-specversion": "1.0",
            "ce-id": self.id,
            "ce-type": self.type,
            "ce-source": self.source,
            "ce-time": self.time.isoformat(),
            "content-type": "application/json",
            # JetStream drops a second publish with the same id inside the stream's duplicate window.
            "Nats-Msg-Id": self.id,
        }
        if self.subject:
            headers["ce-subject"] = self.subject
        if self.traceparent:
            headers[TRACEPARENT_HEADER] = self.traceparent
        return headers

    def payload(self) -> bytes:
        return json.dumps(self.data, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_message(cls, headers: dict[str, str] | None, payload: bytes) -> Envelope:
        headers = headers or {}
        try:
            if headers.get("ce-specversion") != "1.0":
                raise MalformedEvent("not a CloudEvents 1.0 message")
            data = json.loads(payload or b"null")
            if not isinstance(data, dict):
                raise MalformedEvent("event data must be a JSON object")
            return cls(
                id=headers["ce-id"],
                type=headers["ce-type"],
                source=headers["ce-source"],
                time=datetime.fromisoformat(headers["ce-time"]),
                data=data,
                subject=headers.get("ce-subject"),
                traceparent=traceparent_of(headers),
            )
        except KeyError as exc:
            raise MalformedEvent(f"missing CloudEvents attribute {exc.args[0]}") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            if isinstance(exc, MalformedEvent):
                raise
            raise MalformedEvent(f"unreadable event: {exc}") from exc

    def parse(self) -> EventData:
        model = EVENT_TYPES.get(self.type)
        if model is None:
            raise MalformedEvent(f"unknown event type {self.type}")
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            raise MalformedEvent(f"{self.type} payload does not match its contract: {exc}") from exc
