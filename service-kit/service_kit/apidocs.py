"""API docs that work without the internet: Swagger UI at ``/docs``, its script, style and icon served by the
process itself from the ``fastapi-offline`` package (a district intranet often has no way out, and FastAPI's
default page loads them from a public CDN). ReDoc is not offered: its page fetches its logo from the internet."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import fastapi_offline
from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from service_kit.errors import NotFound

ASSETS_DIR: Final = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS: Final = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
ASSETS_PATH: Final = "/docs/assets"


def docs_router(title: str, openapi_url: str = "/openapi.json") -> APIRouter:
    """``/docs`` and ``/docs/assets/{name}`` for the document at ``openapi_url``."""
    router = APIRouter(include_in_schema=False)

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
