"""Validating Linli's OCDS export with the official tools, offline: every package against the OCDS 1.1 schemas in
``standards/ocds-1.1`` (jsonschema), and every contracting process's releases compiled by the Open Contracting
Partnership's reference merge (``ocdsmerge``, reading the vendored release schema, so nothing is fetched): the
compiled release must be valid too, and equal the record's ``compiledRelease`` Linli compiled itself."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import ocdsmerge
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT4

OCDS = Path(__file__).resolve().parents[2] / "standards" / "ocds-1.1"
RELEASE_SCHEMA_URI = "https://standard.open-contracting.org/schema/1__1__5/release-schema.json"
PREFIX = "ocds-lnl0fs"  # the registered form: ocds- and six characters

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")


def format_checker() -> FormatChecker:
    """The schemas' formats, checked: jsonschema checks ``date-time`` and ``uri`` only with optional packages
    this workspace does not install, so RFC 3339 date-times and RFC 3986 absolute URIs are checked here."""
    checker = FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not _DATE_TIME.match(value):
            return False
        datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
        return True

    @checker.checks("uri", raises=ValueError)
    def uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        if not parts.scheme or not _SCHEME.match(parts.scheme) or re.search(r"\s", value):
            return False
        return bool(parts.netloc) if parts.scheme in ("http", "https") else bool(parts.path or parts.netloc)

    return checker


@cache
def validator(name: str) -> Draft4Validator:
    release = json.loads((OCDS / "release-schema.json").read_text())
    registry: Registry[Any] = Registry().with_resource(RELEASE_SCHEMA_URI, DRAFT4.create_resource(release))
    schema = json.loads((OCDS / f"{name}.json").read_text())
    return Draft4Validator(schema, registry=registry, format_checker=format_checker())


def _errors(name: str, document: dict[str, Any]) -> list[str]:
    errors = sorted(validator(name).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{list(e.absolute_path)}: {e.message}" for e in errors]


@cache
def merger() -> ocdsmerge.Merger:
    # A schema given as a dict: ocdsmerge reads its merge rules from it and fetches nothing.
    return ocdsmerge.Merger(schema=json.loads((OCDS / "release-schema.json").read_text()))


def merged(releases: list[dict[str, Any]]) -> dict[str, Any]:
    """The compiled release ocdsmerge makes of one process's releases (oldest first)."""
    return dict(merger().create_compiled_release(copy.deepcopy(releases)))


def _without_id(release: dict[str, Any]) -> dict[str, Any]:
    # ocdsmerge names a compiled release ``<ocid>-<date>``, Linli ``<ocid>-compiled``; all else must agree.
    return {k: v for k, v in release.items() if k != "id"}


def assert_valid(name: str, document: dict[str, Any]) -> None:
    """0 errors: the package against its schema; for a release package, each process's releases compiled by
    ocdsmerge against the release schema; for a record package, also ocdsmerge's compiled release equal to the
    record's own."""
    errors = _errors(name, document)
    assert not errors, "\n".join(errors[:20])
    if name == "release-package-schema":
        by_ocid: dict[str, list[dict[str, Any]]] = {}
        for release in document["releases"]:
            by_ocid.setdefault(release["ocid"], []).append(release)
        for ocid, releases in by_ocid.items():
            errors = _errors("release-schema", merged(releases))
            assert not errors, f"{ocid} compiled by ocdsmerge:\n" + "\n".join(errors[:20])
    elif name == "record-package-schema":
        for record in document["records"]:
            compiled = merged(record["releases"])
            errors = _errors("release-schema", compiled)
            assert not errors, f"{record['ocid']} compiled by ocdsmerge:\n" + "\n".join(errors[:20])
            assert _without_id(record["compiledRelease"]) == _without_id(compiled)


def minimal_package(**release: Any) -> dict[str, Any]:
    good = {"ocid": f"{PREFIX}-1", "id": "1", "date": "2026-11-27T10:00:00+08:00", "tag": ["tender"]}
    return {
        "uri": "https://linli.example.cn/open-data/ocds/releases",
        "version": "1.1",
        "publishedDate": "2026-11-27T10:00:00+08:00",
        "publisher": {"name": "北京市房山区民政局"},
        "releases": [{**good, "initiationType": "tender", **release}],
    }


async def releases_page(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/open-data/ocds/releases", params=params)
    assert response.status_code == 200, response.text
    package = dict(response.json())
    assert_valid("release-package-schema", package)
    return package
