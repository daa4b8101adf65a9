import re
from collections.abc import Callable
from typing import Any

import httpx

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.openapi import merge_openapi, with_api_keys
from service_kit.testing import MonotonicClock, running_app


async def test_merged_document_has_every_services_paths(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    paths = spec["paths"]
    assert {"/api/v1/auth/token", "/api/v1/auth/me", "/.well-known/jwks.json", "/api/v1/accounts"} <= set(paths)
    assert "/api/v1/offerings/{offering_id}" in paths
    assert "/api/v1/bookings/{booking_id}" in paths
    # Only what the route table sends to a service: a service's own /readyz is not the gateway's.
    assert paths["/readyz"]["get"]["summary"] == "The gateway's database"
    assert paths["/healthz"]["get"]["summary"] == "The gateway answers; each service's readiness"
    assert spec["x-linli-missing"] == []
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


async def test_schema_name_clash_is_resolved_with_the_service_prefix(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert set(schemas["Offering"]["properties"]) == {"id", "name_zh", "price_fen"}  # the registry's, first
    assert set(schemas["booking_Offering"]["properties"]) == {"id", "capacity_per_slot"}
    assert schemas["Booking"]["properties"]["offering"]["$ref"] == "#/components/schemas/booking_Offering"
    registry_op = spec["paths"]["/api/v1/offerings/{offering_id}"]["get"]
    assert registry_op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Offering")
    # Schemas every FastAPI service shares unchanged are not duplicated.
    assert "HTTPValidationError" in schemas
    assert not any(name.endswith("_HTTPValidationError") for name in schemas)


async def test_missing_services_are_listed(client: httpx.AsyncClient, services: dict[str, Any]) -> None:
    await services["booking"].stop()
    await services["feedback"].stop()
    spec = (await client.get("/openapi.json")).json()
    assert spec["x-linli-missing"] == ["booking", "feedback"]
    assert "/api/v1/bookings/{booking_id}" not in spec["paths"]
    assert "/api/v1/offerings/{offering_id}" in spec["paths"]


async def test_document_is_cached_for_a_few_seconds(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any], open_gateway: Any
) -> None:
    async with open_gateway(make_settings(services, openapi_cache_seconds=60)) as client:
        first = (await client.get("/openapi.json")).json()
        await services["booking"].stop()
        second = (await client.get("/openapi.json")).json()
    assert first == second
    assert second["x-linli-missing"] == []


async def test_a_service_that_comes_up_appears_at_the_next_request(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any], open_gateway: Any
) -> None:
    """A document missing a service is kept only for the retry interval (here 0), never the cache's 60 s."""
    await services["booking"].stop()
    async with open_gateway(make_settings(services, openapi_cache_seconds=60, openapi_retry_seconds=0)) as client:
        first = (await client.get("/openapi.json")).json()
        assert first["x-linli-missing"] == ["booking"]
        await services["booking"].start()
        second = (await client.get("/openapi.json")).json()
    assert second["x-linli-missing"] == []
    assert "/api/v1/bookings/{booking_id}" in second["paths"]


async def test_a_document_missing_a_service_is_kept_only_for_the_retry_interval(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any]
) -> None:
    """On the gateway's own clock: a whole document is kept for the cache's 60 s, one missing a service for 1 s."""
    app = create_app(make_settings(services, openapi_cache_seconds=60, openapi_retry_seconds=1))
    async with running_app(app, wait_for_events=False) as client:
        clock = MonotonicClock()
        app.state.openapi.clock = clock

        async def missing() -> list[str]:
            return list((await client.get("/openapi.json")).json()["x-linli-missing"])

        await services["booking"].stop()
        assert await missing() == ["booking"]
        await services["booking"].start()
        clock.advance(0.9)
        assert await missing() == ["booking"]  # still the retry interval's answer
        clock.advance(0.2)
        assert await missing() == []
        await services["booking"].stop()
        clock.advance(59)
        assert await missing() == []  # the whole document, kept for the cache's 60 s
        clock.advance(1.1)
        assert await missing() == ["booking"]


async def test_swagger_ui_loads_nothing_from_the_internet(client: httpx.AsyncClient) -> None:
    """A district intranet has no way out: every script, style and icon the docs pages name is served here."""
    for page in ("/docs",):
        response = await client.get(page)
        assert response.status_code == 200
        assert "/openapi.json" in response.text
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: *["']([^"']+)["']""", response.text)
        assets = [u for pair in urls for u in pair if u]
        assert assets, response.text
        for url in assets:
            assert url.startswith("/"), f"{page} loads {url} from elsewhere"
            if url == "/openapi.json":
                continue
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert asset.headers["content-type"].split(";")[0] in {"text/javascript", "text/css", "image/png"}
            assert len(asset.content) > 1000
    assert (await client.get("/docs/assets/../../etc/passwd")).status_code == 404
    missing = await client.get("/docs/assets/swagger-ui-bundle.js.map")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def test_a_schema_referring_to_a_renamed_one_is_renamed_too() -> None:
    gateway = {"openapi": "3.1.0", "paths": {}, "components": {"schemas": {}}}
    registry = {
        "paths": {"/api/v1/offerings": {"get": {"responses": {"200": {"content": {"j": {"schema": _ref("Page")}}}}}}},
        "components": {
            "schemas": {
                "Page": {"type": "object", "properties": {"items": {"type": "array", "items": _ref("Item")}}},
                "Item": {"type": "object", "properties": {"name_zh": {"type": "string"}}},
                "Money": {"type": "integer"},
            }
        },
    }
    booking = {
        "paths": {"/api/v1/bookings": {"get": {"responses": {"200": {"content": {"j": {"schema": _ref("Page")}}}}}}},
        "components": {
            "schemas": {
                # The same text as the registry's Page, but its Item is another thing.
                "Page": {"type": "object", "properties": {"items": {"type": "array", "items": _ref("Item")}}},
                "Item": {"type": "object", "properties": {"slot_start": {"type": "string"}}},
                "Money": {"type": "integer"},
            }
        },
    }
    merged = merge_openapi(gateway, {"registry": registry, "booking": booking, "feedback": None})
    schemas = merged["components"]["schemas"]
    assert set(schemas) == {"Page", "Item", "Money", "booking_Page", "booking_Item"}
    assert schemas["booking_Page"]["properties"]["items"]["items"] == _ref("booking_Item")
    assert schemas["Page"]["properties"]["items"]["items"] == _ref("Item")
    booking_op = merged["paths"]["/api/v1/bookings"]["get"]
    assert booking_op["responses"]["200"]["content"]["j"]["schema"] == _ref("booking_Page")
    assert merged["x-linli-missing"] == ["feedback"]
    assert gateway["components"] == {"schemas": {}}  # the input is not modified


async def test_operations_that_take_api_keys_say_so_with_their_scope(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    scheme = document["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-API-Key")
    me = document["paths"]["/api/v1/auth/me"]["get"]
    assert {"apiKey": []} in me["security"]
    assert me["x-linli-api-key-scope"] is None
    booking = document["paths"]["/api/v1/bookings/{booking_id}"]["get"]
    assert {"apiKey": ["bookings:read"]} in booking["security"]
    assert booking["x-linli-api-key-scope"] == "bookings:read"
    # A route no key may call declares only the bearer token (the document's default).
    assert "security" not in document["paths"]["/api/v1/auth/token"]["post"]


def test_an_operation_id_two_services_share_takes_the_later_services_name() -> None:
    def listing(op_id: str) -> dict[str, Any]:
        return {"get": {"operationId": op_id, "responses": {}}}

    gateway = {"openapi": "3.1.0", "paths": {"/api/v1/home": listing("getHome")}, "components": {"schemas": {}}}
    procurement = {"paths": {"/api/v1/need-pool": listing("listNeeds")}}
    feedback = {"paths": {"/api/v1/needs": listing("listNeeds"), "/api/v1/complaints": listing("getHome")}}
    merged = merge_openapi(gateway, {"procurement": procurement, "feedback": feedback})
    ids = {path: item["get"]["operationId"] for path, item in merged["paths"].items()}
    assert ids == {
        "/api/v1/home": "getHome",
        "/api/v1/need-pool": "listNeeds",
        "/api/v1/needs": "feedbackListNeeds",
        "/api/v1/complaints": "feedbackGetHome",
    }
    assert feedback["paths"]["/api/v1/needs"]["get"]["operationId"] == "listNeeds"  # the input is not modified


async def test_integrators_scopes_are_declared_per_operation(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    open311 = document["components"]["securitySchemes"]["open311ApiKey"]
    assert (open311["type"], open311["in"], open311["name"]) == ("apiKey", "query", "api_key")
    for scope in ("contracts:read", "deliverables:read", "webhooks:manage"):
        assert scope in document["components"]["securitySchemes"]["apiKey"]["description"]

    operation: dict[str, Any] = {"responses": {}}
    paths = {
        path: {method: dict(operation) for method in methods}
        for path, methods in {
            "/api/v1/contracts": ("get", "post"),
            "/api/v1/contracts/{contract_id}": ("get",),
            "/api/v1/contracts/{contract_id}/deliverables": ("get",),
            "/api/v1/contracts/{contract_id}/evaluations": ("get",),
            "/api/v1/organizations/{organization_id}/webhooks": ("get", "post"),
            "/open311/v2/requests.json": ("get", "post"),
        }.items()
    }
    marked = with_api_keys({"paths": paths})["paths"]

    def scope(path: str, method: str) -> object:
        return marked[path][method].get("x-linli-api-key-scope", "no key")

    assert scope("/api/v1/contracts", "get") == "contracts:read"
    assert {"apiKey": ["contracts:read"]} in marked["/api/v1/contracts"]["get"]["security"]
    assert scope("/api/v1/contracts", "post") == "no key"
    assert scope("/api/v1/contracts/{contract_id}", "get") == "contracts:read"
    assert scope("/api/v1/contracts/{contract_id}/deliverables", "get") == "deliverables:read"
    assert scope("/api/v1/contracts/{contract_id}/evaluations", "get") == "no key"
    assert scope("/api/v1/organizations/{organization_id}/webhooks", "get") is None  # any of its provider's keys
    assert scope("/api/v1/organizations/{organization_id}/webhooks", "post") == "webhooks:manage"
    filing = marked["/open311/v2/requests.json"]["post"]
    assert filing["x-linli-api-key-scope"] == "open311:requests"
    assert filing["security"] == [{"bearerAuth": []}, {"open311ApiKey": ["open311:requests"]}]
    # Reading requests is public; an application's key is accepted there too.
    reading = marked["/open311/v2/requests.json"]["get"]["security"]
    assert reading == [{"bearerAuth": []}, {"open311ApiKey": ["open311:requests"]}, {}]
