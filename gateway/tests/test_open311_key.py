"""Where a GeoReport v2 client puts its ``api_key``, and the request left once the gateway has taken it out."""

from __future__ import annotations

import json

import httpx
import pytest

from gateway.open311 import take_api_key
from service_kit.errors import ValidationFailed

KEY = "linli_0123456789ab_" + "k" * 43
FORM = "application/x-www-form-urlencoded"


def multipart(**fields: str) -> tuple[bytes, str]:
    request = httpx.Request(
        "POST", "http://linli.test/", data=fields, files={"media": ("a.jpg", b"\xff\xd8\xff\xe0api_key", "image/jpeg")}
    )
    return request.read(), request.headers["content-type"]


def test_the_query_comes_first_and_loses_the_key() -> None:
    key, query, body = take_api_key(
        f"api_key={KEY}&jurisdiction_id=fangshan.gov.cn", b"api_key=other&service_code=x", FORM
    )
    assert (key, query) == (KEY, "jurisdiction_id=fangshan.gov.cn")
    assert body == b"service_code=x"


def test_a_form_field() -> None:
    assert take_api_key("", f"service_code=need.elderly&api_key={KEY}&description=%E7%BC%BA".encode(), FORM) == (
        KEY,
        "",
        b"service_code=need.elderly&description=%E7%BC%BA",
    )
    # Every other field stays exactly as sent: nothing decoded and encoded again.
    as_sent = b"description=%e7%bc%ba+a%20b&flag&api_key=" + KEY.encode() + b"&n=%FF"
    assert take_api_key("", as_sent, FORM) == (KEY, "", b"description=%e7%bc%ba+a%20b&flag&n=%FF")
    assert take_api_key(f"a=%FF&flag&api_key={KEY}", b"", FORM) == (KEY, "a=%FF&flag", b"")
    # A form without the field, though its text names it, is left as sent.
    untouched = b"description=api_key%20lost&service_code=x"
    assert take_api_key("", untouched, FORM) == (None, "", untouched)


def test_a_json_field() -> None:
    key, _, body = take_api_key("", json.dumps({"api_key": KEY, "service_code": "x"}).encode(), "application/json")
    assert (key, json.loads(body)) == (KEY, {"service_code": "x"})
    key, _, body = take_api_key("", b'{"api_key": 7}', "application/json")
    assert key == ""  # present but not a string: refused by the exchange as a wrong key


def test_a_multipart_field_goes_and_every_other_part_stays_byte_for_byte() -> None:
    body, content_type = multipart(api_key=KEY, service_code="need.elderly")
    key, _, left = take_api_key("", body, content_type)
    assert key == KEY
    assert KEY.encode() not in left
    # The same request never holding the key, under the same boundary: what the service receives.
    without, other_type = multipart(service_code="need.elderly")
    ours, theirs = (t.split("boundary=")[1].encode() for t in (content_type, other_type))
    assert left == without.replace(theirs, ours)
    # No key among the parts (only in a file's bytes): nothing changes.
    assert take_api_key("", without, content_type) == (None, "", without)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\xff\xfeapi_key=1", FORM),
        (b"{api_key", "application/json"),
        # Nested past the parser's recursion limit: refused like any bad JSON, not a 500.
        (b'{"api_key": "x", "a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "application/json"),
    ],
)
def test_a_body_that_is_not_what_it_says_is_refused(body: bytes, content_type: str) -> None:
    with pytest.raises(ValidationFailed):
        take_api_key("", body, content_type)
