"""Who may call which route through the gateway. So far: what a provider's system (an API key) may reach,
and with which scope. A key reaches only the routes listed here; anything else is refused at the edge."""

from __future__ import annotations

from gateway.apikeys.schemas import Scope
from service_kit.errors import Forbidden

READ = frozenset({"GET", "HEAD"})
WRITE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC = None  # readable without any scope

#   methods   path prefix (whole segments)   scope needed
API_KEY_ROUTES: tuple[tuple[frozenset[str], str, Scope | None], ...] = (
    (READ, "/api/v1/bookings", Scope.bookings_read),
    (WRITE, "/api/v1/bookings", Scope.bookings_write),
    (READ, "/api/v1/availability", Scope.bookings_read),
    (READ, "/api/v1/offerings", PUBLIC),
    (WRITE, "/api/v1/offerings", Scope.offerings_write),
    (READ, "/api/v1/categories", PUBLIC),
    (READ, "/api/v1/organizations", PUBLIC),
)


def _matches(prefix: str, path: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def check_api_key(method: str, path: str, scopes: frozenset[str]) -> None:
    """Raise Forbidden unless a key with ``scopes`` may call ``method path``."""
    for methods, prefix, scope in API_KEY_ROUTES:
        if method in methods and _matches(prefix, path):
            if scope is PUBLIC or scope in scopes:
                return
            raise Forbidden(f"This API key lacks the scope {scope}.", code="scope_missing")
    raise Forbidden("API keys cannot call this route.", code="route_not_for_api_keys")
