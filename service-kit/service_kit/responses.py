"""The JSON answer every service gives: one form for date-times (``timeutil.TIMESTAMP_CONVENTION``).

Schemas declare plain ``datetime`` fields and may hold any offset (a booking's slot is computed in Beijing time,
a problem's detail may carry an ``isoformat()``); the answer is where the convention is kept, once, for every
schema, every dict and every problem: a date-time becomes RFC 3339 in UTC with ``Z``, a date ``YYYY-MM-DD``.
A string is rewritten only when the whole of it is a date-time with an offset, so free text is never touched.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from fastapi.responses import JSONResponse

from service_kit.timeutil import AWARE_DATETIME, UTC_TIMESTAMP, rfc3339


def in_convention(value: Any) -> Any:
    """``value`` (a JSON-able structure) with every date-time in the answers' form."""
    if isinstance(value, str):
        if UTC_TIMESTAMP.match(value) or not AWARE_DATETIME.match(value):
            return value
        return rfc3339(datetime.fromisoformat(value))
    if isinstance(value, dict):
        return {key: in_convention(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [in_convention(item) for item in value]
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


class LinliJSONResponse(JSONResponse):
    """The services' JSON answer (and problem+json): date-times in the one convention."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            in_convention(content), ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        ).encode("utf-8")


class StandardDocumentResponse(JSONResponse):
    """A document in an external open-data standard (OCDS, Open311 GeoReport), answered as its standard writes
    it: its date-times keep the offset the export gives them (OCDS marks a Beijing calendar day as its midnight,
    ``+08:00``), so the convention does not rewrite them."""
