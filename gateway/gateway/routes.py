"""Who owns which path: the gateway's one route table (docs/vertical-slice.md).

A prefix matches a whole path segment: ``/api/v1/bookings`` owns ``/api/v1/bookings`` and
``/api/v1/bookings/…``, never ``/api/v1/bookingsx``. The longest matching prefix wins.
"""

from __future__ import annotations

GATEWAY = "gateway"
UPSTREAMS = ("registry", "booking", "procurement", "feedback")

ROUTE_TABLE: dict[str, str] = {
    # The gateway itself: token issuer, JWKS, staff accounts, providers' API keys.
    "/api/v1/auth": GATEWAY,
    "/.well-known": GATEWAY,
    "/api/v1/accounts": GATEWAY,
    "/api/v1/api-keys": GATEWAY,
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
    "/open-data/ocds": "procurement",
    # Operations (dead letters), one prefix per service.
    **{f"/api/v1/ops/{name}": name for name in UPSTREAMS},
}

_BY_LENGTH = sorted(ROUTE_TABLE.items(), key=lambda item: len(item[0]), reverse=True)


def owner_of(path: str) -> str | None:
    """The component that serves ``path`` (``"gateway"`` or a service name), or None when nobody does."""
    for prefix, owner in _BY_LENGTH:
        if path == prefix or path.startswith(prefix + "/"):
            return owner
    return None
