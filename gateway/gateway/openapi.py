"""One OpenAPI document for all of Linli: the gateway's own operations plus every service's.

Each service's paths are taken only where the route table sends them to that service. Component schemas
with the same name and the same content are shared; when two services mean different things by one name,
the later one's schema is renamed ``<service>_<Name>`` and its ``$ref``s are rewritten (a schema that
refers to a renamed one differs as well, and is renamed with it). A service that cannot be reached is
left out and listed under ``x-linli-missing``.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from gateway import policy
from gateway.routes import UPSTREAMS, owner_of
from gateway.upstreams import Upstreams
from service_kit.apidocs import place_examples
from service_kit.auth import ApiKeyScope as Scope
from service_kit.errors import problem_schema

SCHEMA_REF = "#/components/schemas/"
_METHODS = ("get", "put", "post", "delete", "patch", "head")


def rewrite_refs(node: Any, renames: Mapping[str, str]) -> Any:
    """A copy of ``node`` whose references to renamed component schemas point at the new names."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        copied = {key: rewrite_refs(value, renames) for key, value in node.items()}
        if isinstance(ref, str) and ref.startswith(SCHEMA_REF) and ref[len(SCHEMA_REF) :] in renames:
            copied["$ref"] = SCHEMA_REF + renames[ref[len(SCHEMA_REF) :]]
        return copied
    if isinstance(node, list):
        return [rewrite_refs(item, renames) for item in node]
    return node


def _clashing_schemas(service: str, theirs: Mapping[str, Any], ours: Mapping[str, Any]) -> dict[str, str]:
    """Which of a service's schemas must be renamed, and to what: repeated until renaming one makes no other
    schema (one that refers to it) differ from ours."""
    renames: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for name, schema in theirs.items():
            if name in renames or name not in ours or ours[name] == rewrite_refs(schema, renames):
                continue
            candidate, n = f"{service}_{name}", 2
            while candidate in ours or candidate in theirs:
                candidate, n = f"{service}_{name}_{n}", n + 1
            renames[name] = candidate
            changed = True
    return renames


def _operation_ids(paths: Mapping[str, Any]) -> set[str]:
    return {
        operation["operationId"]
        for item in paths.values()
        for method, operation in item.items()
        if method in _METHODS and isinstance(operation, Mapping) and "operationId" in operation
    }


def _with_unique_operation_ids(service: str, item: dict[str, Any], paths: Mapping[str, Any]) -> dict[str, Any]:
    """A service's path item whose operation ids are not already another operation's: a generated client (the
    mobile app's) has one method per id. A clash (two services each naming an endpoint ``listNeeds``) takes the
    service's name (``feedbackListNeeds``); the ids are meant to be unique already, and
    clients/typescript/operation-ids.txt pins them, so a rename here shows in the tests."""
    taken = _operation_ids(paths)
    for method, operation in item.items():
        op_id = operation.get("operationId") if method in _METHODS and isinstance(operation, dict) else None
        if op_id is None or op_id not in taken:
            continue
        candidate, n = service + op_id[:1].upper() + op_id[1:], 2
        while candidate in taken:
            candidate, n = f"{service}{op_id[:1].upper()}{op_id[1:]}{n}", n + 1
        operation["operationId"] = candidate
        taken.add(candidate)
    return item


def merge_openapi(
    gateway_document: Mapping[str, Any], services: Mapping[str, Mapping[str, Any] | None]
) -> dict[str, Any]:
    """The gateway's document extended with each service's (None: the service is missing)."""
    merged: dict[str, Any] = copy.deepcopy(dict(gateway_document))
    paths: dict[str, Any] = merged.setdefault("paths", {})
    components: dict[str, Any] = merged.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    tag_names = {tag.get("name") for tag in merged.get("tags", [])}
    missing: list[str] = []
    for service, document in services.items():
        if document is None:
            missing.append(service)
            continue
        their_components: Mapping[str, Any] = document.get("components") or {}
        their_schemas: Mapping[str, Any] = their_components.get("schemas") or {}
        renames = _clashing_schemas(service, their_schemas, schemas)
        for name, schema in their_schemas.items():
            schemas.setdefault(renames.get(name, name), rewrite_refs(schema, renames))
        for kind, entries in their_components.items():
            if kind != "schemas" and isinstance(entries, Mapping):
                bucket = components.setdefault(kind, {})
                for name, entry in entries.items():
                    bucket.setdefault(name, rewrite_refs(entry, renames))
        for path, item in (document.get("paths") or {}).items():
            if owner_of(path) == service and path not in paths:
                paths[path] = _with_unique_operation_ids(service, rewrite_refs(item, renames), paths)
        for tag in document.get("tags") or []:
            if isinstance(tag, Mapping) and tag.get("name") not in tag_names:
                merged.setdefault("tags", []).append(dict(tag))
                tag_names.add(tag.get("name"))
    merged["x-linli-missing"] = missing
    return merged


API_KEY_DESCRIPTION = (
    "A provider's system: its API key (``linli_<prefix>_<secret>``, made by its provider_admin at "
    "POST /api/v1/api-keys), in ``X-API-Key`` or as ``Authorization: ApiKey <key>``. An operation that accepts "
    "keys lists ``apiKey`` in its security, with the scope the key must carry (none: any provider's key), also "
    "given as ``x-linli-api-key-scope``; GET /api/v1/auth/me says which provider and scopes a key has. Scopes: "
    "bookings:read, bookings:write, offerings:write, contracts:read (its own contracts), deliverables:read (what "
    "was delivered under them), webhooks:manage (its webhook endpoints)."
)
OPEN311_KEY_DESCRIPTION = (
    "An Open311 application (the district's 12345 hotline system, a community app): the ``open311`` key an admin "
    "issued to it, sent as GeoReport v2's ``api_key`` parameter (query or form field; the headers of ``apiKey`` "
    "work too). It files service requests under /open311 and calls nothing else; what it files records the "
    "application (docs/api-keys.md)."
)


def with_api_keys(document: dict[str, Any]) -> dict[str, Any]:
    """Each operation the policy lets API keys call gets ``security`` naming ``apiKey`` (OpenAPI 3.1: with the scope
    the key needs as the requirement's role) beside the bearer token, and ``x-linli-api-key-scope``."""
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            rule = policy.rule_for(method.upper(), path)
            if rule is None or rule.key == policy.NO_KEY:
                continue
            scopes = [] if rule.key == policy.ANY_KEY else [str(rule.key)]
            public = rule.who == policy.PUBLIC
            scheme = "open311ApiKey" if rule.key == Scope.open311_requests else "apiKey"
            operation["security"] = [{"bearerAuth": []}, {scheme: scopes}, *([{}] if public else [])]
            operation["x-linli-api-key-scope"] = scopes[0] if scopes else None
    return document


class OpenAPIAggregator:
    """Builds the merged document (one rebuild at a time) and keeps it for ``cache_seconds``; a document that
    misses a service is kept only ``retry_seconds``, so a service that was still starting appears at once."""

    def __init__(
        self,
        app: FastAPI,
        upstreams: Upstreams,
        cache_seconds: float,
        retry_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.clock = clock  # seconds, monotonic; tests move a clock of their own instead of sleeping
        self.upstreams = upstreams
        self.cache_seconds = cache_seconds
        self.retry_seconds = min(retry_seconds, cache_seconds)
        self._own: dict[str, Any] | None = None
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    def gateway_document(self) -> dict[str, Any]:
        if self._own is None:
            document = get_openapi(
                title=self.app.title,
                version=self.app.version,
                description=self.app.description,
                routes=self.app.routes,
            )
            components = document.setdefault("components", {})
            components.setdefault("schemas", {}).setdefault("Problem", problem_schema())
            components["securitySchemes"] = {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-API-Key",
                    "description": API_KEY_DESCRIPTION,
                },
                "open311ApiKey": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "api_key",
                    "description": OPEN311_KEY_DESCRIPTION,
                },
            }
            # A bearer token where an operation needs one; many (public notices, open data) do not. Operations a
            # provider's system may call with an API key say so themselves (``with_api_keys``).
            document["security"] = [{"bearerAuth": []}, {}]
            self._own = place_examples(document)
        return self._own

    def _fresh(self) -> dict[str, Any] | None:
        if self._cached is None:
            return None
        built_at, document = self._cached
        keep = self.retry_seconds if document["x-linli-missing"] else self.cache_seconds
        return document if self.clock() - built_at < keep else None

    async def document(self) -> dict[str, Any]:
        if (cached := self._fresh()) is not None:
            return cached
        async with self._lock:
            if (cached := self._fresh()) is not None:
                return cached
            documents = await asyncio.gather(*(self.upstreams.openapi(name) for name in UPSTREAMS))
            merged = with_api_keys(merge_openapi(self.gateway_document(), dict(zip(UPSTREAMS, documents, strict=True))))
            self._cached = (self.clock(), merged)
            return merged


router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
async def openapi_document(request: Request) -> JSONResponse:
    aggregator: OpenAPIAggregator = request.app.state.openapi
    return JSONResponse(await aggregator.document())
