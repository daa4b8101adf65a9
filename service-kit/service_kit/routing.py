"""The route template that served a request: what metrics count it by and what traces name it by, never its
path (which holds ids, and a resident's phone in a query)."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.utils import get_dependant
from fastapi.routing import APIRoute, _IncludedRouter
from starlette.routing import Match
from starlette.types import Scope

from service_kit.operation_ids import operation_id
from service_kit.responses import LinliJSONResponse


def service_router(**kwargs: Any) -> APIRouter:
    """A service module's ``APIRouter``, holding what every Linli app gives its routes (date-times written one way,
    readable operation ids), so that the routes it builds when the module is imported are the ones every app serves
    (``mount``)."""
    kwargs.setdefault("default_response_class", LinliJSONResponse)
    kwargs.setdefault("generate_unique_id_function", operation_id)
    return APIRouter(**kwargs)


def mount(app: FastAPI, router: APIRouter) -> None:
    """Serve ``router``'s routes in ``app`` as they were built when its module was imported.

    ``app.include_router`` has FastAPI build every route's state again for that app, at its first request: its
    parameters', body's and answers' pydantic adapters, 0.2–0.5 s of CPU per app, once per process in production but
    once per test in the service suites. The routes of a ``service_router`` need nothing of the app: they carry its
    response class and operation ids, and no Linli service overrides a dependency (tests move time through
    ``app.state.clock``: ``service_kit.clock``). Any other router, or one that includes another, is included."""
    own = router.default_response_class is LinliJSONResponse and not isinstance(
        router.generate_unique_id_function, DefaultPlaceholder
    )
    if not own or any(isinstance(route, _IncludedRouter) for route in router.routes):
        app.include_router(router)
        return
    app.router.routes.extend(router.routes)


class OverridesNotSeen(dict[Any, Any]):
    """``app.dependency_overrides`` of an app whose routes are mounted: they would not see an override, so setting
    one fails instead of doing nothing. What a test would override, the app takes from its state
    (``app.state.clock``)."""

    def __setitem__(self, key: Any, value: Any) -> None:
        raise TypeError(
            f"this app serves its routes as built (service_kit.routing.mount) and they see no dependency override "
            f"({getattr(key, '__qualname__', key)}); give the app what it needs through app.state (app.state.clock "
            "for time: service_kit.testing.Clock.answers)"
        )

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


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
    a hop to a thread and back; ``refuse_threaded_calls`` keeps them out.

    Read from the routes as declared (a router's routes are the same objects in every app made from it, so each is
    read once per process), not from the effective routes FastAPI builds for an app on first use: building those
    for every route of every app a test suite makes cost a third of its CPU. The routers an app includes are
    FastAPI's ``_IncludedRouter`` entries; ``service-kit/tests/test_app.py`` finds a plain dependency through one."""
    found: set[str] = set()
    top = tuple(app.router.dependencies)
    pending: list[tuple[Any, str, tuple[Any, ...]]] = [(route, "", top) for route in app.routes]
    while pending:
        route, prefix, included_with = pending.pop()
        if isinstance(route, _IncludedRouter):
            context = route.include_context
            inner, more = prefix + context.prefix, tuple(context.dependencies)
            pending.extend((child, inner, included_with + more) for child in route.original_router.routes)
        elif isinstance(route, APIRoute):
            where = f"{', '.join(sorted(route.methods or ()))} {prefix}{route.path}"
            found.update(f"{name} ({where})" for name in _plain_in_route(route))
            for depends in included_with:
                found.update(f"{name} ({where})" for name in _plain_in_dependency(depends.dependency))
    return sorted(found)


# What each declared route, and each dependency a router is included with, holds that is not awaited: read once.
# A route is keyed by its id and kept beside its answer (routes compare by value and hash by nothing), so the id
# is never another's.
_ROUTES: dict[int, tuple[APIRoute, tuple[str, ...]]] = {}
_DEPENDENCIES: dict[Any, tuple[str, ...]] = {}


def _plain_in_route(route: APIRoute) -> tuple[str, ...]:
    known = _ROUTES.get(id(route))
    if known is None:
        known = _ROUTES[id(route)] = (route, _plain_calls(route.dependant))
    return known[1]


def _plain_in_dependency(call: Any) -> tuple[str, ...]:
    if call not in _DEPENDENCIES:
        _DEPENDENCIES[call] = _plain_calls(get_dependant(path="", call=call))
    return _DEPENDENCIES[call]


def _plain_calls(dependant: Any) -> tuple[str, ...]:
    names: set[str] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        if current.call is not None and not _awaited(current.call):
            names.add(getattr(current.call, "__qualname__", repr(current.call)))
        pending.extend(current.dependencies)
    return tuple(sorted(names))


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
