"""Documents (service_kit.documents): typed by content, photos without their location (unless evidence), stored
once by checksum, served by links that expire on the injected clock, every upload and download audited.

Every test runs on both stores: files on a volume (``FileStore``) and objects in an S3-compatible bucket
(``S3Store``, against moto's S3 server: ``service_kit.testing.s3_server``)."""

import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import ExifTags, Image
from sqlalchemy.ext.asyncio import AsyncSession

from service_kit.auth import Principal, Role
from service_kit.db import create_engine, create_sessionmaker, new_metadata
from service_kit.documents import (
    ACCEPTANCE_REPORT,
    COMPLAINT_PHOTO,
    DELIVERY_EVIDENCE,
    Documents,
    DocumentTables,
    is_upload_route,
)
from service_kit.documents.content import has_location
from service_kit.documents.store import DamagedContent, FileStore, S3Store
from service_kit.errors import DependencyUnavailable, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType
from service_kit.testing import S3Server, photo

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 9, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


OFFICIAL = Principal(subject="official-1", roles=frozenset({Role.official}))
PROVIDER = Principal(subject="provider-1", roles=frozenset({Role.provider_admin}), provider_id=uuid.uuid4())


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Stored:
    """What a store holds, seen from outside it: the files under its directory, or the objects in its bucket."""

    def __init__(self, root: Path | None = None, s3: S3Server | None = None, bucket: str = "") -> None:
        self.root, self.s3, self.bucket = root, s3, bucket
        self.store: FileStore | S3Store = (
            FileStore(root)
            if root is not None
            else S3Store(
                bucket,
                "kit",
                endpoint_url=s3.endpoint_url if s3 else None,
                credentials=(s3.access_key_id, s3.secret_access_key) if s3 else None,
            )
        )

    def names(self) -> list[str]:
        if self.root is not None:
            return sorted(path.name for path in self.root.rglob("*") if path.is_file())
        assert self.s3 is not None
        listed = self.s3.client().list_objects_v2(Bucket=self.bucket).get("Contents", [])
        return sorted(item["Key"].rsplit("/", 1)[1] for item in listed)

    def damage(self, sha256: str, data: bytes) -> None:
        """Overwrite the stored content (a failing disk, an operator's mistake in the bucket)."""
        if isinstance(self.store, FileStore):
            self.store.path_of(sha256).write_bytes(data)
        else:
            assert self.s3 is not None
            self.s3.client().put_object(Bucket=self.bucket, Key=self.store.key_of(sha256), Body=data)


@pytest.fixture(params=["file", "s3"])
def stored(request: pytest.FixtureRequest, tmp_path: Path) -> Stored:
    if request.param == "file":
        return Stored(root=tmp_path / "store")
    s3: S3Server = request.getfixturevalue("s3_server")
    return Stored(s3=s3, bucket=s3.new_bucket())


@pytest.fixture
async def setup(tmp_path: Path, clock: Clock, stored: Stored) -> AsyncIterator[tuple[Documents, AsyncSession]]:
    metadata = new_metadata()
    tables = DocumentTables(metadata)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'documents.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    documents = Documents(
        "kit",
        tables,
        stored.store,
        b"k" * 32,
        public_base_url="https://linli.example.cn/",
        max_bytes=64 * 1024,
        link_seconds=300,
        clock=clock,
    )
    async with create_sessionmaker(engine)() as session:
        yield documents, session
    await engine.dispose()


def link_parts(url: str) -> tuple[uuid.UUID, dict[str, str]]:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    return uuid.UUID(parts.path.rsplit("/", 1)[1]), query


async def fetch(documents: Documents, session: AsyncSession, url: str) -> bytes:
    document_id, query = link_parts(url)
    response = await documents.serve(
        session,
        document_id,
        variant=query.get("variant"),
        expires=int(query["expires"]) if "expires" in query else None,
        issued_to=query.get("for"),
        signature=query.get("signature"),
    )
    return bytes(response.body)


async def test_a_file_whose_name_or_declared_type_lies_is_refused(setup: tuple[Documents, AsyncSession]) -> None:
    documents, session = setup
    owner = uuid.uuid4()
    with pytest.raises(UnsupportedMediaType) as named:
        await documents.upload(
            session, PDF, filename="photo.jpg", declared_type=None, purpose=ACCEPTANCE_REPORT, owner_id=owner, by="x"
        )
    assert (named.value.status, named.value.code) == (415, "lying_extension")
    with pytest.raises(UnsupportedMediaType) as declared:
        await documents.upload(
            session, PDF, filename=None, declared_type="image/png", purpose=ACCEPTANCE_REPORT, owner_id=owner, by="x"
        )
    assert declared.value.code == "lying_content_type"
    with pytest.raises(UnsupportedMediaType) as script:
        await documents.upload(
            session,
            b"#!/bin/sh\nrm -rf /\n",
            filename="report.pdf",
            declared_type="application/pdf",
            purpose=ACCEPTANCE_REPORT,
            owner_id=owner,
            by="x",
        )
    assert script.value.code == "unsupported_media_type"
    with pytest.raises(UnsupportedMediaType):  # a PDF is no photo
        await documents.upload(
            session, PDF, filename="a.pdf", declared_type=None, purpose=COMPLAINT_PHOTO, owner_id=owner, by="x"
        )
    with pytest.raises(PayloadTooLarge):
        await documents.upload(
            session,
            PDF + b"0" * 64 * 1024,
            filename="a.pdf",
            declared_type=None,
            purpose=ACCEPTANCE_REPORT,
            owner_id=owner,
            by="x",
        )
    assert await documents.listed(session, "acceptance", owner, viewer=OFFICIAL) == []


async def test_a_complaint_photo_loses_its_location(setup: tuple[Documents, AsyncSession]) -> None:
    documents, session = setup
    complaint = uuid.uuid4()
    original = photo(located=True)
    assert has_location(original)
    row = await documents.upload(
        session,
        original,
        filename="late.JPG",
        declared_type="image/jpeg",
        purpose=COMPLAINT_PHOTO,
        owner_id=complaint,
        by="resident-1",
    )
    assert row["located_sha256"] is None
    (listed,) = await documents.listed(session, "complaint", complaint, viewer=OFFICIAL)
    assert (listed["filename"], listed["media_type"]) == ("late.jpg", "image/jpeg")
    assert "located_url" not in listed  # nothing kept with the location, even for an official
    served = await fetch(documents, session, listed["url"])
    assert not has_location(served)
    assert Image.open(io.BytesIO(served)).getexif()[ExifTags.Base.Orientation] == 1  # the rest of EXIF stays


async def test_delivery_evidence_keeps_its_location_for_officials_only(setup: tuple[Documents, AsyncSession]) -> None:
    documents, session = setup
    booking = uuid.uuid4()
    await documents.upload(
        session,
        photo(located=True, image_format="PNG"),
        filename="door.png",
        declared_type="image/png",
        purpose=DELIVERY_EVIDENCE,
        owner_id=booking,
        by="provider-1",
    )
    (for_provider,) = await documents.listed(session, "booking", booking, viewer=PROVIDER)
    assert "located_url" not in for_provider
    assert not has_location(await fetch(documents, session, for_provider["url"]))

    (for_official,) = await documents.listed(session, "booking", booking, viewer=OFFICIAL)
    assert has_location(await fetch(documents, session, for_official["located_url"]))
    assert not has_location(await fetch(documents, session, for_official["url"]))

    # The provider cannot turn their own link into the located one: the variant is signed.
    _, query = link_parts(for_provider["url"])
    forged = for_provider["url"].replace("variant=plain", "variant=located")
    assert "variant=located" in forged
    assert query["variant"] == "plain"
    with pytest.raises(Forbidden) as refused:
        await fetch(documents, session, forged)
    assert refused.value.code == "link_invalid"
    # A signature that is not even ASCII is as invalid as a wrong one.
    with pytest.raises(Forbidden) as refused:
        await fetch(
            documents, session, for_provider["url"].replace(f"signature={query['signature']}", "signature=%C3%A9")
        )
    assert refused.value.code == "link_invalid"


async def test_a_signed_link_expires(setup: tuple[Documents, AsyncSession], clock: Clock) -> None:
    documents, session = setup
    complaint = uuid.uuid4()
    await documents.upload(
        session,
        photo(located=False),
        filename=None,
        declared_type=None,
        purpose=COMPLAINT_PHOTO,
        owner_id=complaint,
        by="resident-1",
    )
    (listed,) = await documents.listed(session, "complaint", complaint, viewer="resident-1")
    assert listed["url_expires_at"] == clock.now + timedelta(seconds=300)
    assert listed["url"].startswith("https://linli.example.cn/api/v1/documents/kit/")
    clock.now += timedelta(seconds=299)
    assert await fetch(documents, session, listed["url"])
    clock.now += timedelta(seconds=1)
    with pytest.raises(Forbidden) as expired:
        await fetch(documents, session, listed["url"])
    assert expired.value.code == "link_expired"
    # Not public: without a signature it is not served at all.
    document_id, _ = link_parts(listed["url"])
    with pytest.raises(Forbidden) as unsigned:
        await documents.serve(session, document_id, variant=None, expires=None, issued_to=None, signature=None)
    assert unsigned.value.code == "link_required"
    with pytest.raises(NotFound):
        await documents.serve(session, uuid.uuid4(), variant=None, expires=None, issued_to=None, signature=None)


async def test_the_same_bytes_are_stored_once_and_every_access_is_audited(
    setup: tuple[Documents, AsyncSession], stored: Stored
) -> None:
    documents, session = setup
    first, second = uuid.uuid4(), uuid.uuid4()
    a = await documents.upload(
        session,
        PDF,
        filename="验收报告.pdf",
        declared_type="application/pdf",
        purpose=ACCEPTANCE_REPORT,
        owner_id=first,
        by="official-1",
    )
    b = await documents.upload(
        session,
        PDF,
        filename="again.pdf",
        declared_type=None,
        purpose=ACCEPTANCE_REPORT,
        owner_id=second,
        by="official-1",
    )
    assert a["sha256"] == b["sha256"]
    assert a["id"] != b["id"]
    assert stored.names() == [a["sha256"]]

    # A public document is served at its plain URL too, and listed for open data with it.
    public = await documents.public_documents(session, "acceptance", [str(first)])
    (published,) = public[str(first)]
    assert published["url"] == f"https://linli.example.cn/api/v1/documents/kit/{a['id']}"
    assert await fetch(documents, session, published["url"]) == PDF

    accesses = await documents.accesses(session, a["id"])
    assert [(x["action"], x["actor"]) for x in accesses] == [("upload", "official-1"), ("download", "public")]
    assert all(set(x) == {"id", "document_id", "action", "variant", "actor", "at"} for x in accesses)

    # Bytes damaged on the volume or in the bucket are never served as the document.
    stored.damage(a["sha256"], PDF.replace(b"Catalog", b"Catalag"))
    with pytest.raises(DependencyUnavailable) as damaged:
        await fetch(documents, session, published["url"])
    assert (damaged.value.status, damaged.value.code) == (503, "document_damaged")
    with pytest.raises(DamagedContent):
        await stored.store.get(a["sha256"])
    assert [x["action"] for x in await documents.accesses(session, a["id"])] == ["upload", "download"]


async def test_content_stored_nowhere_is_not_found_in_either_store(stored: Stored) -> None:
    with pytest.raises(FileNotFoundError):
        await stored.store.get("0" * 64)
    with pytest.raises(ValueError, match="sha256"):
        await stored.store.get("../../etc/passwd")
    sha256 = await stored.store.put(PDF)
    assert await stored.store.get(sha256) == PDF


async def test_an_object_store_that_cannot_be_reached_is_a_503_to_retry(s3_server: S3Server) -> None:
    unknown_bucket = S3Store(
        "no-such-bucket",
        "kit",
        endpoint_url=s3_server.endpoint_url,
        credentials=(s3_server.access_key_id, s3_server.secret_access_key),
    )
    with pytest.raises(DependencyUnavailable) as refused:
        await unknown_bucket.put(PDF)
    assert (refused.value.status, refused.value.code) == (503, "document_store_unavailable")


def test_upload_routes_are_the_only_ones_with_the_larger_body_limit() -> None:
    assert is_upload_route("/open311/v2/requests.json")
    assert is_upload_route(f"/api/v1/complaints/{uuid.uuid4()}/documents")
    assert not is_upload_route("/api/v1/complaints")
    assert not is_upload_route(f"/api/v1/complaints/{uuid.uuid4()}/documents/x")
    assert not is_upload_route("/open311/v2/requests.jsonx")
