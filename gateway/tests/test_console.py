"""The call-center console's page: served by the gateway itself at /console/, each file with its content type, a
strict Content-Security-Policy, nothing from another origin, and no other path of the disk reachable."""

import re
from typing import Any

import httpx
import pytest

from gateway.console import FILES, STATIC_DIR

CONTENT_TYPES = {
    "/console/": "text/html; charset=utf-8",
    "/console/index.html": "text/html; charset=utf-8",
    "/console/console.css": "text/css; charset=utf-8",
    "/console/i18n.js": "text/javascript; charset=utf-8",
    "/console/privacy-notice.js": "text/javascript; charset=utf-8",
    "/console/api.js": "text/javascript; charset=utf-8",
    "/console/app.js": "text/javascript; charset=utf-8",
}


@pytest.mark.parametrize(("path", "content_type"), CONTENT_TYPES.items())
async def test_each_file_is_served_with_its_content_type(
    client: httpx.AsyncClient, services: dict[str, Any], path: str, content_type: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-cache"
    name = path.removeprefix("/console/") or "index.html"
    assert response.content == (STATIC_DIR / name).read_bytes()
    assert all(server.app.state.requests == [] for server in services.values())  # never forwarded


async def test_the_page_allows_only_its_own_scripts_styles_and_requests(client: httpx.AsyncClient) -> None:
    policy = (await client.get("/console/")).headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    # Elsewhere the gateway's own default stays as it was.
    elsewhere = await client.get("/readyz")
    assert elsewhere.headers["content-security-policy"] == "frame-ancestors 'none'"


def test_the_page_loads_nothing_from_elsewhere() -> None:
    """No CDN: every script and stylesheet the page names is one of the console's own files."""
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    referenced = re.findall(r'(?:src|href)="([^"#]+)"', html)
    assert {"console.css", "i18n.js", "privacy-notice.js", "api.js", "app.js"} <= set(referenced)
    for reference in referenced:
        assert reference in FILES or reference.startswith("data:"), reference
    for name in FILES:
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        assert not re.search(r"https?://", text.replace("http://www.w3.org", "")), name


async def test_head_answers_like_get(client: httpx.AsyncClient) -> None:
    response = await client.head("/console/app.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.content == b""


async def test_the_bare_path_redirects_with_the_callers_number(client: httpx.AsyncClient) -> None:
    response = await client.get("/console", params={"phone": "13801010001"})
    assert response.status_code == 308
    assert response.headers["location"] == "/console/?phone=13801010001"
    assert (await client.get("/console")).headers["location"] == "/console/"


@pytest.mark.parametrize(
    "path",
    [
        "/console/__init__.py",
        "/console/static",
        "/console/missing.js",
        "/console/%2e%2e%2f__init__.py",
        "/console/..%2f..%2fapp.py",
        "/console/static/app.js",
    ],
)
async def test_nothing_else_is_served(client: httpx.AsyncClient, services: dict[str, Any], path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"
    assert all(server.app.state.requests == [] for server in services.values())


async def test_the_console_is_not_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert not [path for path in document["paths"] if path.startswith("/console")]


def test_every_word_of_the_console_has_its_english() -> None:
    """English mode never falls back to Chinese or shows a code: each key of the Chinese dictionary is in the
    English one too (and nothing is English-only)."""
    text = (STATIC_DIR / "i18n.js").read_text(encoding="utf-8")
    chinese, english = text.split('\n  "en": {')
    key = re.compile(r'^\s+"([a-z0-9_.]+)":', re.MULTILINE)
    assert sorted(set(key.findall(chinese)) - set(key.findall(english))) == []
    assert sorted(set(key.findall(english)) - set(key.findall(chinese))) == []
    # Every key the page names outright is in the dictionary, and so is every reason a call is filed under.
    app = (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    named = {k for k in re.findall(r'\bt\("([a-z0-9_.]+)"', app) if not k.endswith(".")}  # not "tag." + tag
    reasons = re.search(r"const REASONS = \[([^\]]*)\]", app)
    assert reasons is not None
    named |= {f"reason.{code}" for code in re.findall(r'"([a-z_]+)"', reasons.group(1))}
    assert sorted(named - set(key.findall(english))) == []
