"""The route template that served a request: what metrics count it by and what traces name it by, never its
path (which holds ids, and a resident's phone in a query)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.routing import Match
from starlette.types import Scope


def route_template(scope: Scope) -> str | None:
    """The template of the route routing chose (``/api/v1/bookings/{booking_id}``); for a request a middleware
    answered before routing (a refusal, a HEAD answered as GET), the first of the app's routes matching its path;
    else None."""
    template = _template(scope.get("route"))
    if template is not None:
        return template
    app = scope.get("app")
    routes: Iterable[Any] = getattr(getattr(app, "router", None), "routes", ())
    for candidate in routes:
        match, child = candidate.matches(scope)
        if match is not Match.NONE:
            template = _template(child.get("route")) or _template(candidate)
            if template is not None:
                return template
    return None


def _template(route: Any) -> str | None:
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) else None
