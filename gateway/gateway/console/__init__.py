"""The call-center console: the page operators serve callers with, served by the gateway at ``/console/``.

Plain HTML, CSS and JavaScript from ``static/`` (no build step, nothing from another origin); the page signs in
and works through the public API with the operator's own token, like any other client. Only the files listed
here are served, each with its content type, so no path reaches anything else on disk. The console's answers
carry a strict Content-Security-Policy of their own: scripts, styles and requests from this origin only."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from service_kit.errors import NotFound

STATIC_DIR = Path(__file__).resolve().parent / "static"

FILES: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "i18n.js": "text/javascript; charset=utf-8",
    "privacy-notice.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "series.js": "text/javascript; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
}

# The gateway's middleware adds its default headers only where an answer has none of its own.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    # The page changes with each release and is small: always revalidated, never served stale.
    "Cache-Control": "no-cache",
}

router = APIRouter(prefix="/console", include_in_schema=False)


@router.api_route("", methods=["GET", "HEAD"])
async def console_root(request: Request) -> Response:
    # The telephone system may open ``/console?phone=…``: the caller's number goes along.
    query = request.url.query
    return RedirectResponse("/console/" + (f"?{query}" if query else ""), status_code=308)


@router.api_route("/", methods=["GET", "HEAD"])
async def console_page() -> Response:
    return _file("index.html")


@router.api_route("/{name}", methods=["GET", "HEAD"])
async def console_asset(name: str) -> Response:
    return _file(name)


def _file(name: str) -> Response:
    media_type = FILES.get(name)
    if media_type is None:
        raise NotFound("The console has no such file.")
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=HEADERS)
