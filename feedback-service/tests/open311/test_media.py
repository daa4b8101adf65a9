"""Open311's ``media``: a 311 client files a complaint with a photo (multipart), as the standard lets it; the photo
is kept without its location, follows the request as ``media_url`` for whom may read it in full, and a file that
lies about its type is refused in the standard's error format."""

import io
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
from PIL import Image

from service_kit.testing import gps_of
from service_kit.testing import photo as located_photo

BASE = "/open311/v2"


def form(provider_id: uuid.UUID) -> dict[str, str]:
    return {
        "service_code": "complaint.punctuality",
        "description": "助浴员迟到，照片为证",
        "api_key": "ignored-here",
        "attribute[target_kind]": "provider",
        "attribute[target_id]": str(provider_id),
    }


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_a_complaint_filed_with_a_photo_keeps_no_location(
    client: httpx.AsyncClient, resident_headers: Any, known: Any
) -> None:
    resident_id = uuid.uuid4()
    headers = resident_headers(resident_id)
    photo = located_photo(size=(32, 24))
    assert gps_of(photo)
    response = await client.post(
        f"{BASE}/requests.json",
        data=form(await known.provider()),
        files={"media": ("late.jpg", photo, "image/jpeg")},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    (created,) = response.json()
    request_id = created["service_request_id"]

    (public,) = (await client.get(f"{BASE}/requests/{request_id}.json")).json()
    assert public["media_url"] is None  # the public reads no photo
    (own,) = (await client.get(f"{BASE}/requests/{request_id}.json", headers=headers)).json()
    assert own["media_url"].startswith("http://127.0.0.1:8000/api/v1/documents/feedback/")
    served = await client.get(local(own["media_url"]))
    assert served.status_code == 200, served.text
    assert served.headers["content-type"] == "image/jpeg"
    assert gps_of(served.content) == {}
    assert Image.open(io.BytesIO(served.content)).size == (32, 24)

    # The same photo is listed on the complaint, where a tampered link is refused.
    (listed,) = (await client.get(f"/api/v1/complaints/{request_id}/documents", headers=headers)).json()
    assert (listed["purpose"], listed["media_type"], listed["filename"]) == (
        "complaint_photo",
        "image/jpeg",
        "late.jpg",
    )
    tampered = await client.get(local(listed["url"]).replace("for=", "for=x"))
    assert tampered.status_code == 403
    assert tampered.headers["content-type"] == "application/problem+json"
    assert tampered.json()["code"] == "link_invalid"


async def test_a_file_lying_about_its_type_is_refused_and_nothing_is_filed(
    client: httpx.AsyncClient, resident_headers: Any, known: Any
) -> None:
    resident_id = uuid.uuid4()
    headers = resident_headers(resident_id)
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    for suffix in ("json", "xml"):
        response = await client.post(
            f"{BASE}/requests.{suffix}",
            data=form(await known.provider()),
            files={"media": ("photo.jpg", pdf, "image/jpeg")},
            headers=headers,
        )
        assert response.status_code == 415, response.text
        if suffix == "json":
            (error,) = response.json()
            assert error["code"] == 415
            assert "application/pdf" in error["description"]
        else:
            assert response.headers["content-type"].startswith("text/xml")
            assert b"<errors><error><code>415</code>" in response.content
    mine = (await client.get(f"{BASE}/requests.json", headers=headers)).json()
    assert [r for r in mine if r["description"] == "助浴员迟到，照片为证"] == []


async def test_photos_attached_to_a_complaint_in_the_app(
    client: httpx.AsyncClient, resident_headers: Any, provider_headers: Any, known: Any
) -> None:
    resident_id = uuid.uuid4()
    headers = resident_headers(resident_id)
    provider_id = await known.provider()
    response = await client.post(f"{BASE}/requests.json", data=form(provider_id), headers=headers)
    request_id = response.json()[0]["service_request_id"]
    photo = located_photo(size=(32, 24))

    first = await client.post(
        f"/api/v1/complaints/{request_id}/documents", files={"file": ("a.jpeg", photo, "image/jpeg")}, headers=headers
    )
    assert first.status_code == 201, first.text
    again = await client.post(
        f"/api/v1/complaints/{request_id}/documents", files={"file": ("b.jpg", photo, "image/jpeg")}, headers=headers
    )
    assert again.status_code == 201, again.text
    assert first.json()["sha256"] == again.json()["sha256"]  # the same bytes, stored once
    assert first.json()["id"] != again.json()["id"]

    # Someone else's complaint does not exist for a stranger.
    stranger = resident_headers(uuid.uuid4())
    refused = await client.post(
        f"/api/v1/complaints/{request_id}/documents", files={"file": ("c.jpg", photo, "image/jpeg")}, headers=stranger
    )
    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"

    not_a_photo = await client.post(
        f"/api/v1/complaints/{request_id}/documents",
        files={"file": ("notes.png", b"just some text, not a picture", "image/png")},
        headers=headers,
    )
    assert not_a_photo.status_code == 415
    assert not_a_photo.headers["content-type"] == "application/problem+json"

    listed = (await client.get(f"/api/v1/complaints/{request_id}/documents", headers=headers)).json()
    assert [item["filename"] for item in listed] == ["a.jpg", "b.jpg"]
