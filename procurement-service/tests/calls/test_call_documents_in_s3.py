"""A call's documents kept in an S3-compatible bucket (``LINLI_DOCUMENTS_STORE=s3``), the production option where
no shared volume is at hand: attached, listed and downloaded as on a volume, stored once under procurement's
prefix, and a damaged object never served as the document. The bucket is moto's S3 server
(``service_kit.testing.s3_server``), reached over HTTP like any S3-compatible store."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sourcing_builders import call_body, create_fund, official

from procurement.app import SERVICE_DIR
from procurement.config import Settings
from service_kit.testing import Clock, DatabaseFactory, S3Server, TestKeys, assert_problem

TERMS = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    return s3_server.new_bucket()


@pytest.fixture
def settings(
    service_env: dict[str, Any], database_factory: DatabaseFactory, s3_server: S3Server, bucket: str
) -> Settings:
    return Settings(**service_env, **s3_server.settings(bucket), database_url=database_factory.new(SERVICE_DIR))


async def test_call_documents_live_in_the_bucket(
    client: httpx.AsyncClient, test_keys: TestKeys, clock: Clock, s3_server: S3Server, bucket: str
) -> None:
    headers = official(test_keys)
    fund = await create_fund(client, test_keys)
    call = (await client.post("/api/v1/calls", json=call_body(fund["id"]), headers=headers)).json()
    documents_url = f"/api/v1/calls/{call['id']}/documents"
    for name in ("征集公告.pdf", "征集公告（副本）.pdf"):
        attached = await client.post(documents_url, files={"file": (name, TERMS, "application/pdf")}, headers=headers)
        assert attached.status_code == 201, attached.text
        clock.advance(minutes=5)  # listed oldest first
    clock.advance(hours=1)
    assert (await client.post(f"/api/v1/calls/{call['id']}/publish", headers=headers)).status_code == 200

    listed = (await client.get(documents_url)).json()
    assert [d["filename"] for d in listed] == ["征集公告.pdf", "征集公告（副本）.pdf"]
    served = await client.get(f"/api/v1/documents/procurement/{listed[0]['id']}")
    assert served.status_code == 200
    assert served.content == TERMS
    assert served.headers["content-type"] == "application/pdf"

    objects = s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]
    sha256 = listed[0]["sha256"]
    assert [o["Key"] for o in objects] == [f"procurement/{sha256[:2]}/{sha256[2:4]}/{sha256}"]  # the same bytes once

    s3_server.client().put_object(Bucket=bucket, Key=objects[0]["Key"], Body=TERMS.replace(b"Catalog", b"Catalag"))
    damaged = await client.get(f"/api/v1/documents/procurement/{listed[1]['id']}")
    assert_problem(damaged, 503, "document_damaged")
    assert "cannot be served" in damaged.json()["detail"]
