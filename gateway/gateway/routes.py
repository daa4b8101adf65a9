"""Who owns which path: the gateway's one route table (docs/vertical-slice.md), and how long the gateway
waits for each route's answer.

A prefix matches a whole path segment: ``/api/v1/bookings`` owns ``/api/v1/bookings`` and
``/api/v1/bookings/…``, never ``/api/v1/bookingsx``. The longest matching prefix wins.

Path patterns (the slow routes here, the role × route policy in gateway/policy.py) are written like the
services' OpenAPI paths: ``{booking_id}`` or ``*`` stands for one path segment, ``**`` for any number of
segments (none included): ``/open-data/**`` is ``/open-data`` and everything under it.
"""

from __future__ import annotations

import re
from functools import lru_cache

GATEWAY = "gateway"
UPSTREAMS = ("registry", "booking", "procurement", "feedback")

ROUTE_TABLE: dict[str, str] = {
    # The gateway itself: token issuer, JWKS, staff accounts, providers' API keys.
    "/api/v1/auth": GATEWAY,
    "/.well-known": GATEWAY,
    "/api/v1/accounts": GATEWAY,
    "/api/v1/api-keys": GATEWAY,
    "/api/v1/home": GATEWAY,
    "/console": GATEWAY,  # the call-center console's page (gateway/console)
    # Provider registry.
    "/api/v1/organizations": "registry",
    "/api/v1/offerings": "registry",
    "/api/v1/categories": "registry",
    "/api/v1/streets": "registry",
    "/api/v1/communities": "registry",
    "/api/v1/service-centers": "registry",
    "/api/v1/circle": "registry",
    "/api/v1/qualifications": "registry",
    "/open-data/hsds": "registry",
    # Booking.
    "/api/v1/residents": "booking",
    "/api/v1/bookings": "booking",
    "/api/v1/availability": "booking",
    "/api/v1/entitlements": "booking",
    "/api/v1/notifications": "booking",
    "/api/v1/hotline": "booking",  # the call center's callbacks and handover
    # Feedback.
    "/api/v1/ratings": "feedback",
    "/api/v1/rating-invitations": "feedback",
    "/api/v1/complaints": "feedback",
    "/api/v1/needs": "feedback",
    "/api/v1/scores": "feedback",
    "/open311": "feedback",
    # Procurement.
    "/api/v1/contracts": "procurement",
    "/api/v1/calls": "procurement",
    "/api/v1/notices": "procurement",
    "/api/v1/funds": "procurement",
    "/api/v1/need-pool": "procurement",
    "/api/v1/review-assignments": "procurement",
    "/api/v1/audit-trail": "procurement",
    "/api/v1/sanctions": "procurement",
    "/open-data/ocds": "procurement",
    "/open-data/providers": "procurement",  # providers' public standing: past performance
    # Documents' content, by signed link (or a public document's plain URL): service_kit.documents.
    "/api/v1/documents/booking": "booking",
    "/api/v1/documents/feedback": "feedback",
    "/api/v1/documents/procurement": "procurement",
    # Operations (dead letters), one prefix per service.
    **{f"/api/v1/ops/{name}": name for name in UPSTREAMS},
}

_BY_LENGTH = sorted(ROUTE_TABLE.items(), key=lambda item: len(item[0]), reverse=True)


@lru_cache(maxsize=4096)  # every proxied request asks; paths repeat (docs/gateway-benchmark.md)
def owner_of(path: str) -> str | None:
    """The component that serves ``path`` (``"gateway"`` or a service name), or None when nobody does."""
    for prefix, owner in _BY_LENGTH:
        if path == prefix or path.startswith(prefix + "/"):
            return owner
    return None


@lru_cache(maxsize=4096)
def prefix_of(path: str) -> str | None:
    """The route table's prefix that gives ``path`` its owner (the longest that matches), or None."""
    for prefix, _ in _BY_LENGTH:
        if path == prefix or path.startswith(prefix + "/"):
            return prefix
    return None


# ------------------------------------------------------------------ path patterns


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    parts = []
    for segment in pattern.strip("/").split("/"):
        if segment == "**":
            parts.append("(?:/[^/]+)*")
        elif segment == "*" or (segment.startswith("{") and segment.endswith("}")):
            parts.append("/[^/]+")
        elif segment:
            parts.append("/" + re.escape(segment))
    return re.compile("".join(parts) + "/?" if parts else "/")


def matches(pattern: str, path: str) -> bool:
    """Whether ``path`` (no query) matches ``pattern``; a trailing slash is ignored."""
    return _compiled(pattern).fullmatch(path) is not None


# ------------------------------------------------------------------ how long to wait for an answer

# Routes known to take longer than the default upstream timeout (LINLI_UPSTREAM_TIMEOUT_SECONDS), in seconds.
# A route waits for the longer of the two. A timeout is answered 504 ``upstream_timeout``.
SLOW_ROUTES: tuple[tuple[str, float], ...] = (
    ("/api/v1/circle/coverage", 60.0),  # every community × category, officials' planning view
    ("/api/v1/circle/gaps", 60.0),
    ("/open-data/**", 60.0),  # HSDS and OCDS publications, built on request
    ("/api/v1/**/export", 120.0),  # spreadsheet exports (CSV/XLSX) of lists
    ("/api/v1/**/exports/**", 120.0),
)


@lru_cache(maxsize=4096)
def timeout_for(path: str, default: float) -> float:
    """Seconds to wait for the answer of the service owning ``path``."""
    for pattern, seconds in SLOW_ROUTES:
        if matches(pattern, path):
            return max(seconds, default)
    return default
