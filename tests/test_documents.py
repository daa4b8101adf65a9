"""Documents through the gateway: a resident's 311 app files a complaint with a photo larger than any other body
the edge takes, the photo comes back through its signed link without its location, and a file lying about its
type is refused in Open311's error format."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from service_kit.testing import gps_of
from service_kit.testing import photo as photo_of

from .conftest import eventually_blocking, new_provider, resident_in_the_app

pytestmark = pytest.mark.stack

MIB = 1024 * 1024


def test_a_complaint_with_a_photo_through_the_gateway(gateway: httpx.Client) -> None:
    provider = new_provider(gateway, "良乡助浴服务站")
    me, _, _ = resident_in_the_app(gateway, "刘桂兰")
    # A PNG of noise (it does not compress) a little over 1 MiB, the limit of every body but a document's.
    photo = photo_of(image_format="PNG", size=(700, 560), noise=True)
    assert 1 * MIB < len(photo) < 2 * MIB
    form = {
        "service_code": "complaint.punctuality",
        "description": "助浴员迟到两小时",
        "attribute[target_kind]": "provider",
        "attribute[target_id]": provider["id"],
    }

    # Anywhere else a body this large is refused at the edge.
    elsewhere = gateway.post("/api/v1/complaints", headers={**me, "content-type": "application/json"}, content=photo)
    assert elsewhere.status_code == 413
    assert elsewhere.headers["content-type"] == "application/problem+json"
    # On /open311 the same refusal is GeoReport's error list, in the form the path asks for.
    listing = gateway.request("GET", "/open311/v2/services.xml", content=photo)
    assert (listing.status_code, listing.headers["content-type"]) == (413, "text/xml; charset=utf-8")
    assert ET.fromstring(listing.content).findtext("error/code") == "413"
    assert "exceeds the limit" in (ET.fromstring(listing.content).findtext("error/description") or "")

    # A file named as a photo that is not one is refused in the standard's form, and files nothing.
    lying = gateway.post(
        "/open311/v2/requests.json",
        headers=me,
        data=form,
        files={"media": ("photo.png", b"%PDF-1.4\n%%EOF\n", "image/png")},
    )
    assert lying.status_code == 415, lying.text
    (error,) = lying.json()
    assert error["code"] == 415

    def filed() -> httpx.Response | None:
        response = gateway.post(
            "/open311/v2/requests.json", headers=me, data=form, files={"media": ("door.png", photo, "image/png")}
        )
        return response if response.status_code == 201 else None  # until feedback knows the new provider

    request_id = eventually_blocking(filed).json()[0]["service_request_id"]

    (public,) = gateway.get(f"/open311/v2/requests/{request_id}.json").json()
    assert public["media_url"] is None
    (own,) = gateway.get(f"/open311/v2/requests/{request_id}.json", headers=me).json()
    link = urlsplit(own["media_url"])
    served = gateway.get(f"{link.path}?{link.query}")  # no sign-in: the signed link is what admits
    assert served.status_code == 200, served.text
    assert served.headers["content-type"] == "image/png"
    assert gps_of(photo)
    assert gps_of(served.content) == {}
    assert Image.open(io.BytesIO(served.content)).tobytes() == Image.open(io.BytesIO(photo)).tobytes()

    (listed,) = gateway.get(f"/api/v1/complaints/{request_id}/documents", headers=me).json()
    assert listed["media_type"] == "image/png"
    assert listed["size"] == len(served.content)
    # Without its signature the link admits nobody: the document is not public.
    unsigned = gateway.get(urlsplit(listed["url"]).path)
    assert unsigned.status_code == 403
    assert unsigned.json()["code"] == "link_required"
