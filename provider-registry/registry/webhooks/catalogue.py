"""Which Linli events a provider's system may receive, under which names, and the thin payload each carries.

Names drop the ``linli.`` prefix and the version: ``linli.booking.confirmed.v1`` is ``booking.confirmed``; a
whole family is ``booking.*``. Payloads carry ids and status only — never a resident's name, phone or address
(not even the opaque resident id): the provider reads what it is allowed to see through the API.
"""

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from service_kit.events.contracts import (
    EVENT_TYPES,
    BookingChanged,
    BookingRescheduled,
    EventData,
    OfferingSnapshot,
    ProviderSanctionChanged,
    ProviderStatusChanged,
)

FAMILIES = ("booking", "offering", "provider")


def short_name(linli_type: str) -> str:
    """``linli.booking.confirmed.v1`` → ``booking.confirmed``."""
    _, family, event, _version = linli_type.split(".")
    return f"{family}.{event}"


# Every event of the three families a provider's system may subscribe to, by its Linli type.
WEBHOOK_EVENTS: dict[str, type[EventData]] = {
    name: cls for name, cls in EVENT_TYPES.items() if name.split(".")[1] in FAMILIES
}
EVENT_NAMES: frozenset[str] = frozenset(short_name(name) for name in WEBHOOK_EVENTS)
SUBSCRIBABLE: frozenset[str] = EVENT_NAMES | {f"{family}.*" for family in FAMILIES}


def normalize_event_types(names: Iterable[str]) -> list[str]:
    """The subscription as stored: known names only, each once, sorted."""
    unknown = sorted({n for n in names if n not in SUBSCRIBABLE})
    if unknown:
        raise ValueError(f"unknown event type(s): {', '.join(unknown)}; known: {', '.join(sorted(SUBSCRIBABLE))}")
    return sorted(set(names))


def subscribed(event_types: Iterable[str], name: str) -> bool:
    family = name.split(".", 1)[0]
    return any(t == name or t == f"{family}.*" for t in event_types)


def thin_payload(name: str, event: EventData, occurred_at: datetime) -> dict[str, Any]:
    data: dict[str, Any]
    if isinstance(event, BookingChanged):
        data = {
            "booking_id": event.booking_id,
            "provider_id": event.provider_id,
            "offering_id": event.offering_id,
            "status": event.status,
            "channel": event.channel,
            "slot_start": event.slot_start,
            "slot_end": event.slot_end,
        }
        if isinstance(event, BookingRescheduled) and event.previous_slot_start is not None:
            data["previous_slot_start"] = event.previous_slot_start
    elif isinstance(event, OfferingSnapshot):
        data = {
            "offering_id": event.offering_id,
            "provider_id": event.provider_id,
            "status": event.status,
            "version": event.version,
        }
    elif isinstance(event, ProviderStatusChanged):
        data = {"provider_id": event.provider_id, "status": event.status}
    elif isinstance(event, ProviderSanctionChanged):
        data = {
            "provider_id": event.provider_id,
            "sanction_id": event.sanction_id,
            "measure": event.measure,
            "until": event.until,
        }
    else:  # pragma: no cover - WEBHOOK_EVENTS holds only the families above
        raise TypeError(f"no webhook payload for {type(event).__name__}")
    return {
        "type": name,
        "timestamp": occurred_at.isoformat(),
        "data": {k: _plain(v) for k, v in data.items()},
    }


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if value is None or isinstance(value, int | str):
        return value
    return str(value)


def provider_of(event: EventData) -> Any:
    """The provider whose endpoints may receive ``event`` (every family above names it)."""
    return getattr(event, "provider_id", None)
