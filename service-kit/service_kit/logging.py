"""Structured JSON logs with the request id (and the trace id under a span), and personal data masked before
anything is written."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog
from asgi_correlation_id import correlation_id

from service_kit.tracing import add_trace_ids

_PHONE = re.compile(r"(?<!\d)(\+?86)?(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])(\d{4})\d{10}(\d{3}[\dXx])(?![0-9A-Za-z])")


def mask_personal_data(text: str) -> str:
    """Mask mainland phone numbers (138****5678) and resident ID numbers (1101**********1234)."""
    text = _ID_CARD.sub(lambda m: f"{m.group(1)}{'*' * 10}{m.group(2)}", text)
    return _PHONE.sub(lambda m: f"{m.group(1) or ''}{m.group(2)}****{m.group(3)}", text)


def _mask_processor(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = mask_personal_data(value)
    return event_dict


def _request_id_processor(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    request_id = correlation_id.get()
    if request_id:
        event_dict.setdefault("request_id", request_id)
    return event_dict


def configure_logging(service: str, *, level: str = "INFO", json: bool = True) -> None:
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _request_id_processor,
        structlog.processors.format_exc_info,
        _mask_processor,
        # After the masking: a trace id is never personal, and a run of digits in its hex could look like a phone.
        add_trace_ids,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False) if json else (structlog.dev.ConsoleRenderer(colors=False))
    )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    # Access logs carry paths with phone numbers in query strings; the request log below replaces them.
    logging.getLogger("uvicorn.access").disabled = True
