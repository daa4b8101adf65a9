"""The route template that served a request: what metrics count it by and what traces name it by, never its
path (which holds ids, and a resident's phone in a query)."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

from fastapi.routing import iter_route_contexts
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


def _threaded_calls(app: Any) -> list[str]:
    """The endpoints and dependencies of ``app`` written as plain functions (a class among them): FastAPI runs
    each in a worker thread, on every request that uses it. A settings lookup written that way cost every booking
    a hop to a thread and back; ``refuse_threaded_calls`` keeps them out."""
    found: set[str] = set()
    for route in iter_route_contexts(app.routes):
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            continue
        pending = [dependant]
        while pending:
            current = pending.pop()
            call = current.call
            if call is not None and not _awaited(call):
                methods = ", ".join(sorted(route.methods or ()))
                found.add(f"{getattr(call, '__qualname__', repr(call))} ({methods} {route.path})")
            pending.extend(current.dependencies)
    return sorted(found)


def refuse_threaded_calls(app: Any) -> None:
    """Refuse to build ``app`` while an endpoint or dependency would run in a worker thread (``_threaded_calls``):
    Linli's do no blocking work, and one written ``def`` is a mistake to fix, not to pay for per request."""
    found = _threaded_calls(app)
    if found:
        raise RuntimeError(
            "FastAPI would run these in a worker thread on every request; write them `async def`: " + "; ".join(found)
        )


def _awaited(call: Any) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)
