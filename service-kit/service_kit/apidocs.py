"""API docs that work without the internet: Swagger UI at ``/docs``, its script, style and icon served by the
process itself from the ``fastapi-offline`` package (a district intranet often has no way out, and FastAPI's
default page loads them from a public CDN). ReDoc is not offered: its page fetches its logo from the internet.

Also the endpoints' examples (``examples``, ``place_examples``): what an operation takes and answers, shown in the
docs and in a client generated from the document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import fastapi_offline
from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from service_kit.errors import NotFound
from service_kit.routing import service_router

ASSETS_DIR: Final = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS: Final = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
ASSETS_PATH: Final = "/docs/assets"


def docs_router(title: str, openapi_url: str = "/openapi.json") -> APIRouter:
    """``/docs`` and ``/docs/assets/{name}`` for the document at ``openapi_url``."""
    router = service_router(include_in_schema=False)

    @router.get("/docs")
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} — API",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
            # No badge from the public online validator, which Swagger UI asks for a spec on a non-local host.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @router.get(f"{ASSETS_PATH}/{{name}}")
    async def asset(name: str) -> FileResponse:
        media_type = ASSETS.get(name)
        if media_type is None:
            raise NotFound("No such file among the API docs' assets.")
        # The files change only with the package's version; FileResponse adds ETag and Last-Modified.
        return FileResponse(
            ASSETS_DIR / name, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
        )

    return router


# ---- examples in the OpenAPI document

# FastAPI drops every null from the document it generates (examples' too: a booking's "status_reason": null would
# vanish, and the example would no longer fit its schema), so an endpoint's examples travel as JSON text under this
# key and place_examples puts them where OpenAPI reads them.
EXAMPLES_KEY: Final = "x-linli-examples"


def examples(
    *,
    response: Any,
    status: int = 200,
    request: Any = None,
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An endpoint's ``openapi_extra``: an example of its JSON ``request`` body, of its ``parameters`` (by name) and
    of its ``status`` answer. A mobile team reads them in /docs and its generated client's comments; the main
    operations' examples are checked against their schemas (tests/test_typescript_client.py)."""
    given = {"status": str(status), "response": response, "request": request, "parameters": parameters or {}}
    return {EXAMPLES_KEY: json.dumps(given, ensure_ascii=False)}


def place_examples(document: dict[str, Any]) -> dict[str, Any]:
    """Puts each operation's ``examples(...)`` on its answer, its request body and its parameters (``example``)."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or EXAMPLES_KEY not in operation:
                continue
            given = json.loads(operation.pop(EXAMPLES_KEY))
            answer = operation.get("responses", {}).get(given["status"], {}).get("content", {})
            if "application/json" in answer:
                answer["application/json"]["example"] = given["response"]
            body = operation.get("requestBody", {}).get("content", {})
            if given["request"] is not None and "application/json" in body:
                body["application/json"]["example"] = given["request"]
            for parameter in operation.get("parameters", []):
                if parameter.get("name") in given["parameters"]:
                    parameter["example"] = given["parameters"][parameter["name"]]
    return document
