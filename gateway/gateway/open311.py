"""The Open311 GeoReport v2 ``api_key``: where a standard client puts it, found and taken out at the edge.

GeoReport v2 clients send their key as the ``api_key`` parameter: in the query string or among the form fields of
``POST requests`` (form-encoded, as the specification shows; multipart when a client uploads ``media``; JSON,
which Linli's facade also reads). The gateway takes it out of the request — the key never reaches a service — and
exchanges it as any API key (gateway/apikeys/exchange.py): an ``open311`` key becomes the application's token."""

from __future__ import annotations

import json
import re
from urllib.parse import unquote_plus

from service_kit.errors import ValidationFailed

FIELD = "api_key"
_FIELD_BYTES = FIELD.encode()
_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_PART_NAME = re.compile(rb'\bname="?([^";\r\n]*)"?', re.IGNORECASE)


def take_api_key(query: str, body: bytes, content_type: str) -> tuple[str | None, str, bytes]:
    """``(key, query, body)``: the ``api_key`` of the query or the body (the query's first), and both without it.
    A key given twice, or empty, counts as given: an empty one is refused by the exchange like a wrong one."""
    key, query = _from_query(query)
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        found, body = _from_form(body)
    elif media_type == "application/json":
        found, body = _from_json(body)
    elif media_type == "multipart/form-data":
        found, body = _from_multipart(body, content_type)
    else:
        found = None
    return (key if key is not None else found), query, body


def _without_key(encoded: str) -> tuple[str | None, str]:
    """The first ``api_key`` of a form-encoded string, and the string without any: every other pair stays exactly
    as the client sent it (decoding and encoding again would change what the service reads)."""
    pairs = encoded.split("&")
    named = [(unquote_plus(pair.partition("=")[0]), pair) for pair in pairs]
    keys = [unquote_plus(pair.partition("=")[2]) for name, pair in named if name == FIELD]
    if not keys:
        return None, encoded
    return keys[0], "&".join(pair for name, pair in named if name != FIELD)


def _from_query(query: str) -> tuple[str | None, str]:
    if FIELD not in query:
        return None, query
    return _without_key(query)


def _from_form(body: bytes) -> tuple[str | None, bytes]:
    if _FIELD_BYTES not in body:
        return None, body
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed("The form is not valid UTF-8 form encoding.") from exc
    key, rest = _without_key(body.decode("ascii", errors="surrogateescape"))
    return key, rest.encode("ascii", errors="surrogateescape")


def _from_json(body: bytes) -> tuple[str | None, bytes]:
    if _FIELD_BYTES not in body:
        return None, body
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
        raise ValidationFailed("The body is not valid JSON.") from exc
    if not isinstance(document, dict) or FIELD not in document:
        return None, body
    key = document.pop(FIELD)
    return (key if isinstance(key, str) else ""), json.dumps(document, ensure_ascii=False).encode()


def _from_multipart(body: bytes, content_type: str) -> tuple[str | None, bytes]:
    """The ``api_key`` part's value, and the body without that part (every other part's bytes untouched)."""
    match = _BOUNDARY.search(content_type)
    if match is None or _FIELD_BYTES not in body:
        return None, body
    delimiter = b"--" + (match.group(1) or match.group(2)).encode("latin-1")
    segments = body.split(delimiter)
    # segments[0] is the preamble, segments[-1] the closing "--" and epilogue; each part is "\r\n<headers>\r\n\r\n
    # <content>\r\n".
    for index in range(1, len(segments) - 1):
        head, separator, content = segments[index].partition(b"\r\n\r\n")
        if not separator:
            continue
        disposition = next(
            (line for line in head.split(b"\r\n") if line.lower().startswith(b"content-disposition:")), b""
        )
        name = _PART_NAME.search(disposition)
        if name is None or name.group(1) != _FIELD_BYTES:
            continue
        value = content.removesuffix(b"\r\n")
        try:
            key = value.decode("utf-8")
        except UnicodeDecodeError:
            key = ""
        return key, delimiter.join(segments[:index] + segments[index + 1 :])
    return None, body
