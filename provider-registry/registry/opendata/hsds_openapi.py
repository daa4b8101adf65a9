"""The HSDS 3.0 OpenAPI document, as Open Referral publishes it, filled in for Linli.

Open Referral publishes the HSDS API as an OpenAPI template (``hsds-openapi-3.0.json`` beside this module, copied
unchanged from ``openreferral/specification`` 3.0, ``schema/openapi.json``; CC BY-SA 4.0, © Open Referral). A
publisher fills in its ``info`` and ``servers``. Here the server is the configured public address (never the
request's), and only the operations and query parameters this registry answers are kept, with the parameters
Linli adds (a point or a community as the origin of ``proximity``) taken from the registry's own API: a client
generated from the document calls nothing that is not there."""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

TEMPLATE_PATH = Path(__file__).with_name("hsds-openapi-3.0.json")
PREFIX = "/open-data/hsds"


@cache
def _template() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(TEMPLATE_PATH.read_text(encoding="utf-8"))
    return document


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def document(own_openapi: dict[str, Any], public_base_url: str, version: str) -> dict[str, Any]:
    """The filled-in document; ``own_openapi`` is the registry's own OpenAPI document (what it answers)."""
    template = copy.deepcopy(_template())
    shared = template["components"]["parameters"]
    served = {
        _shape(path[len(PREFIX) :] or "/"): item["get"]
        for path, item in own_openapi.get("paths", {}).items()
        if path.startswith(PREFIX) and "get" in item
    }
    paths: dict[str, Any] = {}
    for path, item in template["paths"].items():
        ours = served.get(_shape(path))
        if ours is None:
            continue
        accepted = {p["name"]: p for p in ours.get("parameters", []) if p.get("in") == "query"}
        operation = item["get"]
        kept = []
        for parameter in operation.get("parameters", []):
            name = shared[parameter["$ref"].rsplit("/", 1)[1]]["name"] if "$ref" in parameter else parameter["name"]
            if accepted.pop(name, None) is not None:
                kept.append(parameter)
        operation["parameters"] = kept + list(accepted.values())
        if ours.get("summary"):
            operation.setdefault("summary", ours["summary"])
        paths[path] = item
    template["paths"] = paths
    template["info"] = {
        "title": "Linli 邻里 — 房山区社区服务目录 (HSDS 3.0)",
        "version": version,
        "description": (
            "The community services of Fangshan district, Beijing, published by Linli as the Human Services "
            "Data Specification 3.0 API: public, no login."
        ),
        "license": {"name": "CC BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
    }
    template["servers"] = [{"url": public_base_url + PREFIX}]
    return template
