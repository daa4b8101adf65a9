"""RFC 9457 problem details: one error type, one renderer, stable machine codes.

A problem about the request's fields lists them all in ``errors``, one member each: ``field`` (dotted), ``in``
(``body``, ``query``, ``path``, ``header``), ``type`` (a stable code), ``message``, and RFC 9457's own ``detail``
with either a JSON ``pointer`` into the body (``#/emergency_contact/phone``) or the ``parameter`` or ``header`` it
names, so a client marks every bad field in one go. ``FieldProblems`` gathers a service's own checks the same way."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from service_kit import georeport
from service_kit.responses import LinliJSONResponse

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("linli.errors")


class Problem(BaseModel):
    """The body of every error response."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str | None = None
    instance: str | None = None


class LinliError(Exception):
    """An error a client can act on. Subclasses fix the status; ``code`` is the stable machine code."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(self, detail: str | None = None, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        if code:
            self.code = code
        self.extra = extra

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://linli.example/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail or self.title,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        if isinstance(body.get("errors"), list):
            body["errors"] = [with_pointer(item) for item in body["errors"]]
        return body


class ValidationFailed(LinliError):
    status, code, title = 422, "validation_error", "The request is not valid"


class NotFound(LinliError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(LinliError):
    status, code, title = 409, "conflict", "Conflict with the current state"


class InvalidTransition(Conflict):
    code, title = "invalid_transition", "This change is not allowed in the current state"


class Unauthorized(LinliError):
    status, code, title = 401, "unauthorized", "Authentication required"


class Forbidden(LinliError):
    status, code, title = 403, "forbidden", "Not allowed"


class RequestTimeout(LinliError):
    status, code, title = 408, "body_read_timeout", "The request body did not arrive in time"


class PayloadTooLarge(LinliError):
    status, code, title = 413, "payload_too_large", "Request body too large"


class UnsupportedMediaType(LinliError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class RateLimited(LinliError):
    status, code, title = 429, "rate_limited", "Too many requests"


class DependencyUnavailable(LinliError):
    status, code, title = 503, "dependency_unavailable", "A dependency is unavailable, try again"


def problem_response(problem: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    """The answer to a refusal: problem+json, except on Open311's paths (the problem's ``instance`` under
    ``/open311/``), whose GeoReport v2 clients read the standard's error list, JSON or XML by the path's suffix
    (service_kit.georeport). Every refusal goes through here — a service's handlers, the edge's 413 and 408, the
    gateway's own (not signed in, rate limited, circuit open, timed out) — so none on /open311 is problem+json."""
    instance = problem.get("instance")
    if isinstance(instance, str) and instance.startswith(georeport.PATH_PREFIX):
        return georeport.error_response(instance, problem["status"], problem.get("detail") or problem["title"], headers)
    # Its date-times (a deadline in ``detail`` fields) in the answers' one form, as every other answer.
    return LinliJSONResponse(problem, status_code=problem["status"], media_type=PROBLEM_JSON, headers=headers)


_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    408: ("body_read_timeout", "The request body did not arrive in time"),
    409: ("conflict", "Conflict with the current state"),
    413: ("payload_too_large", "Request body too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_error", "The request is not valid"),
    429: ("rate_limited", "Too many requests"),
    503: ("dependency_unavailable", "A dependency is unavailable, try again"),
}


def _pointer_token(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def with_pointer(item: Any) -> Any:
    """An ``errors`` member with RFC 9457's ``detail`` and ``pointer`` (body) or ``parameter``/``header`` added
    where it has none; the members it had stay as they were."""
    if not isinstance(item, dict) or not isinstance(item.get("field"), str):
        return item
    item = dict(item)
    where = item.get("in", "body")
    field = item["field"]
    if "message" in item:
        item.setdefault("detail", item["message"])
    if where == "body":
        parts = item["_loc"] if "_loc" in item else (field.split(".") if field else [])
        item.setdefault("pointer", "#" + "".join("/" + _pointer_token(str(p)) for p in parts))
    elif where == "header":
        item.setdefault("header", field)
    else:
        item.setdefault("parameter", field)
    item.pop("_loc", None)
    return item


def field_error(field: str, message: str, type_: str, *, where: str = "body") -> dict[str, Any]:
    """One member of a problem's ``errors``: ``field`` dotted (``emergency_contact.phone``), ``type`` its code."""
    return with_pointer({"field": field, "in": where, "message": message, "type": type_})


def _strip_field(detail: str) -> str:
    """``"phone: not a phone number."`` → ``"not a phone number."``: the field is named by the member itself."""
    head, sep, rest = detail.partition(": ")
    return rest if sep and head.replace("_", "").replace(".", "").isalnum() and " " not in head else detail


class FieldProblems:
    """A service's own checks of a request's fields, gathered so the client hears of every bad field at once:

        problems = FieldProblems()
        with problems.field("phone"):
            phone = phones.normalize(data.phone)
        with problems.field("emergency_contact.phone"):
            contact_phone = phones.normalize(data.emergency_contact.phone)
        problems.raise_any()

    A check that raises ``ValidationFailed`` is noted under the field it was given (not the one its message may
    name); ``raise_any`` raises one 422 whose ``code`` is the first problem's, as when it was raised alone, and whose
    ``errors`` lists them all."""

    def __init__(self) -> None:
        self.found: list[tuple[str, ValidationFailed]] = []

    @contextmanager
    def field(self, name: str) -> Iterator[None]:
        try:
            yield
        except ValidationFailed as exc:
            self.found.append((name, exc))

    def raise_any(self) -> None:
        if not self.found:
            return
        errors = [field_error(name, _strip_field(exc.detail or exc.title), exc.code) for name, exc in self.found]
        first_field, first = self.found[0]
        raise ValidationFailed(f"{first_field}: {errors[0]['message']}", code=first.code, errors=errors)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        item: dict[str, Any] = {
            "field": ".".join(loc[1:]) if len(loc) > 1 else ".".join(loc),
            "in": loc[0] if loc else "body",
            "message": err.get("msg", "invalid"),
            "type": err.get("type", "invalid"),
            "_loc": loc[1:],
        }
        # The limits a message names ("at least 3 characters"), for a client to say it in its own words.
        ctx = err.get("ctx") or {}
        limits = {k: v for k, v in ctx.items() if isinstance(v, str | int | float) and not isinstance(v, bool)}
        if limits:
            item["ctx"] = limits
        errors.append(with_pointer(item))
    return errors


def install_error_handlers(app: FastAPI) -> None:
    """Render every error as problem+json: ours, FastAPI's validation, Starlette's HTTP errors, and the rest."""

    @app.exception_handler(LinliError)
    async def _linli_error(request: Request, exc: LinliError) -> Response:
        headers = {"Retry-After": str(exc.extra["retry_after"])} if "retry_after" in exc.extra else None
        return problem_response(exc.to_problem(request.url.path), headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = _field_errors(exc)
        first = errors[0] if errors else {"field": "", "message": "invalid"}
        detail = f"{first['field'] or first['in']}: {first['message']}"
        return problem_response(ValidationFailed(detail, errors=errors).to_problem(request.url.path))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
        body = {
            "type": "about:blank",
            "title": title,
            "status": exc.status_code,
            "code": code,
            "detail": exc.detail if isinstance(exc.detail, str) else title,
            "instance": request.url.path,
        }
        return problem_response(body, dict(exc.headers) if exc.headers else None)

    @app.exception_handler(OperationalError)
    async def _db_unavailable(request: Request, exc: OperationalError) -> Response:
        log.warning("database unavailable", error=str(exc.orig))
        err = DependencyUnavailable("The database is busy or unavailable; retry shortly.", retry_after=1)
        return problem_response(err.to_problem(request.url.path), {"Retry-After": "1"})

    @app.exception_handler(IntegrityError)
    async def _db_integrity(request: Request, exc: IntegrityError) -> Response:
        # A unique or foreign key the database enforced that the service's own checks did not see: a record created
        # (or removed) by a racing request a moment ago. The caller should look again: 409, not their input's fault.
        if _races(exc):
            log.info("a racing write was refused by the database", error=str(exc.orig))
            err = Conflict(
                "This conflicts with a record created or changed at the same moment; look again.", code="conflict"
            )
            return problem_response(err.to_problem(request.url.path))
        log.warning("database refused a statement", error=str(exc.orig))
        return problem_response(
            ValidationFailed("A value was refused by the database.", code="invalid_value").to_problem(request.url.path)
        )

    @app.exception_handler(DBAPIError)
    async def _db_error(request: Request, exc: DBAPIError) -> Response:
        if _sqlstate(exc) in _RETRY_STATES:
            # A deadlock or serialization failure with a request at the same moment: nothing was written, and the
            # same request will very likely go through when sent again. Not the caller's input: 503, Retry-After.
            log.warning("database aborted a racing transaction", error=str(exc.orig))
            busy = DependencyUnavailable(
                "The database stopped this request to let one at the same moment finish; send it again.",
                code="retry_transaction",
                retry_after=1,
            )
            return problem_response(busy.to_problem(request.url.path), {"Retry-After": "1"})
        # A value the database refused (out of range, bad encoding) that validation did not catch.
        log.warning("database refused a statement", error=str(exc.orig))
        err = ValidationFailed("A value was refused by the database.", code="invalid_value")
        return problem_response(err.to_problem(request.url.path))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error", path=request.url.path)
        body = {
            "type": "about:blank",
            "title": "Internal error",
            "status": 500,
            "code": "internal_error",
            "detail": "An unexpected error occurred; it has been logged.",
            "instance": request.url.path,
        }
        return problem_response(body)


# SQLSTATEs of a unique and a foreign-key violation (PostgreSQL); SQLite says it in words.
_RACE_STATES = frozenset({"23505", "23503"})
# PostgreSQL's deadlock_detected and serialization_failure: a transaction aborted for another's sake.
_RETRY_STATES = frozenset({"40P01", "40001"})


def _sqlstate(exc: DBAPIError) -> str | None:
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return str(state) if state is not None else None


def _races(exc: IntegrityError) -> bool:
    state = _sqlstate(exc)
    if state is not None:
        return state in _RACE_STATES
    message = str(exc.orig)
    return "UNIQUE constraint failed" in message or "FOREIGN KEY constraint failed" in message


def problem_schema() -> dict[str, Any]:
    """The ``Problem`` component of an OpenAPI document, which ``error_responses`` refer to: the body as it is
    sent."""
    return Problem.model_json_schema(mode="serialization")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries declaring problem+json errors for an operation: their content refers to the
    ``Problem`` component, which each app's document declares once (``problem_schema``). No ``model``: FastAPI would
    build a pydantic adapter of it for every status of every route, in every app, at its first request (a third of
    that request's 0.2–0.5 s of CPU, paid again by each test's app), and would advertise an ``application/json``
    error body that Linli never sends."""
    return {
        status: {
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "description": _HTTP_CODES.get(status, ("", "Error"))[1],
        }
        for status in statuses
    }
