"""The app factory every service is built from: errors, auth, idempotency, health, OpenAPI."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Annotated, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service_kit import edge
from service_kit.app import ServiceSpec, create_service_app
from service_kit.auth import CurrentPrincipal, Principal, Role, require_roles
from service_kit.db import (
    ReadSessionDep,
    SessionDep,
    WriteInReadingUnitOfWork,
    commit_then_raise,
    create_engine,
    create_sessionmaker,
    get_session,
    reading_engine,
)
from service_kit.errors import Conflict, error_responses
from service_kit.runtime import Runtime
from service_kit.settings import ServiceSettings, settings_dependency
from service_kit.testing import TestKeys, eventually, running_app

from .kit_service import notes

calls: list[str] = []
# A "slow" note waits here until the test lets it through (the test's own event loop makes the event).
held: dict[str, asyncio.Event] = {}
crossing: dict[str, asyncio.Barrier] = {}


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=50)
    stars: int = Field(ge=1, le=5)


class Note(BaseModel):
    id: uuid.UUID
    text: str
    by: str


def notes_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/notes")

    @router.post("", status_code=201, response_model=Note, responses=error_responses(401, 409, 422))
    async def create_note(body: NoteCreate, principal: CurrentPrincipal, session: SessionDep) -> Note:
        calls.append(body.text)
        if body.text == "slow":
            await held["slow"].wait()
        if body.text == "conflict":
            raise Conflict("This note conflicts.", code="note_conflict")
        return Note(id=uuid.uuid4(), text=body.text, by=principal.subject)

    @router.post("/secret", status_code=201, responses=error_responses(401, 409, 422))
    async def create_secret(principal: CurrentPrincipal, session: SessionDep, response: Response) -> dict[str, str]:
        response.headers["Cache-Control"] = "no-store"
        calls.append("secret")
        return {"secret": uuid.uuid4().hex}

    @router.post("/keyed", status_code=201, responses=error_responses(401, 409, 422))
    async def create_keyed_note(body: dict[str, str | None], session: SessionDep) -> dict[str, str | None]:
        """Inserts a note under the caller's own id, trusting the database to refuse a second one."""
        await session.execute(notes.insert().values(id=body["id"], text=body.get("text")))
        await session.flush()
        return {"id": body["id"]}

    @router.post("/refusal", responses=error_responses(401, 409))
    async def refusal(principal: CurrentPrincipal, session: SessionDep, keep: bool) -> None:
        """Writes a note and refuses; with ``keep`` the note stays (as a wrong password is counted and refused)."""
        await session.execute(notes.insert().values(id=str(uuid.uuid4()), text="counted"))
        refused = Conflict("Refused.", code="refused")
        if keep:
            await commit_then_raise(session, refused)
        raise refused

    @router.post("/crossed", responses=error_responses(503))
    async def crossed(first: str, second: str, session: SessionDep) -> None:
        """Changes note ``first``, waits until the crossing request has changed its own, then changes ``second``:
        two such requests, crossed, deadlock on PostgreSQL, which aborts one of them."""
        await session.execute(notes.update().where(notes.c.id == first).values(text="locked"))
        await crossing["both_hold_one"].wait()
        await session.execute(notes.update().where(notes.c.id == second).values(text="locked"))

    @router.get("/request-id")
    async def the_request_id() -> dict[str, str | None]:
        return {"request_id": edge.request_id()}

    @router.get("/count")
    async def count_notes(principal: CurrentPrincipal, session: ReadSessionDep) -> dict[str, int]:
        return {"notes": int(await session.scalar(select(func.count()).select_from(notes)) or 0)}

    @router.get("/times", response_model=Times)
    async def times() -> Times:
        beijing = datetime(2026, 12, 5, 9, 30, tzinfo=timezone(timedelta(hours=8)))
        return Times(at=beijing, on=beijing.date(), text="2026-12-05T09:30:00+08:00 is not a time", nested=[beijing])

    @router.get("/times-dict")
    async def times_dict() -> dict[str, Any]:
        return {"at": datetime(2026, 12, 5, 1, 30, 0, 250000, tzinfo=UTC), "plain": "2026-12-05T09:30:00+08:00"}

    @router.get("/times-problem")
    async def times_problem() -> None:
        deadline = datetime(2026, 12, 10, 18, 0, tzinfo=timezone(timedelta(hours=8)))
        raise Conflict("The call is open until its deadline.", code="deadline", deadline=deadline.isoformat())

    @router.get("/public-address")
    async def public_address(
        settings: Annotated[KitSettings, Depends(settings_dependency(KitSettings))],
    ) -> dict[str, str]:
        return {"service": settings.service_name, "public_base_url": settings.public_base_url}

    @router.get("/official-only")
    async def official_only(
        principal: Annotated[Principal, Depends(require_roles(Role.official))],
    ) -> dict[str, str]:
        return {"subject": principal.subject}

    return router


class Times(BaseModel):
    at: datetime
    on: date
    text: str
    nested: list[datetime]


class KitSettings(ServiceSettings):
    service_name = "kit"


@pytest.fixture
async def client(service_env: dict[str, Any], kit_db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = KitSettings(**service_env, database_url=kit_db_url)
    app = create_service_app(ServiceSpec(name="kit", title="kit", settings=settings, routers=[notes_router()]))
    async with running_app(app) as http:
        yield http


async def test_an_endpoint_is_handed_the_settings_its_service_runs_with(
    service_env: dict[str, Any], kit_db_url: str
) -> None:
    settings = KitSettings(**service_env, database_url=kit_db_url, public_base_url="https://linli.example.cn/")
    app = create_service_app(ServiceSpec(name="kit", title="kit", settings=settings, routers=[notes_router()]))
    async with running_app(app) as http:
        response = await http.get("/api/v1/notes/public-address")
    assert response.json() == {"service": "kit", "public_base_url": "https://linli.example.cn"}


def shelf_of(principal: CurrentPrincipal) -> str:
    return principal.subject


def test_a_dependency_written_as_a_plain_function_is_refused_when_the_app_is_built(
    service_env: dict[str, Any], kit_db_url: str
) -> None:
    # FastAPI would run it in a worker thread on every request: a hop there and back for an attribute read.
    router = APIRouter(prefix="/api/v1/threaded")

    @router.get("")
    async def read_shelf(shelf: Annotated[str, Depends(shelf_of)]) -> dict[str, str]:
        return {"shelf": shelf}

    # Nor may a router be included with one: it runs before each of the router's endpoints.
    outer, guarded = APIRouter(prefix="/api/v1/outer"), APIRouter(prefix="/guarded")

    @guarded.get("/door")
    async def open_door() -> dict[str, str]:
        return {"door": "open"}

    outer.include_router(guarded, dependencies=[Depends(shelf_of)])

    settings = KitSettings(**service_env, database_url=kit_db_url)
    with pytest.raises(RuntimeError) as refused:
        create_service_app(ServiceSpec(name="kit", title="kit", settings=settings, routers=[router, outer]))
    assert "write them `async def`" in str(refused.value)
    assert "shelf_of (GET /api/v1/threaded)" in str(refused.value)
    assert "shelf_of (GET /api/v1/outer/guarded/door)" in str(refused.value)


async def test_a_refusal_that_commits_first_keeps_what_it_wrote(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    operator = test_keys.headers("operator")
    for keep, notes_then in (("false", 0), ("true", 1), ("false", 1)):
        refused = await client.post("/api/v1/notes/refusal", params={"keep": keep}, headers=operator)
        assert (refused.status_code, refused.json()["code"]) == (409, "refused")
        assert (await client.get("/api/v1/notes/count", headers=operator)).json() == {"notes": notes_then}


async def test_openapi_declares_problem_responses(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "Problem" in spec["components"]["schemas"]
    assert "/api/v1/ops/kit/dead-letters" in spec["paths"]
    conflict = spec["paths"]["/api/v1/notes"]["post"]["responses"]["409"]
    # The body a client gets, and only that: an error is never sent as application/json.
    assert conflict["content"] == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert spec["components"]["schemas"]["Problem"]["required"] == ["title", "status", "code"]


def test_an_override_the_mounted_routes_would_not_see_is_refused_in_words(
    service_env: dict[str, Any], kit_db_url: str
) -> None:
    """A service app serves its routes as built at import (``service_kit.routing.mount``): a dependency override
    would be ignored without a word, so setting one fails and says what to do instead."""
    settings = KitSettings(**service_env, database_url=kit_db_url)
    app = create_service_app(ServiceSpec(name="kit", title="kit", settings=settings, routers=[notes_router()]))
    with pytest.raises(TypeError, match=r"see no dependency override \(get_session\).*app\.state\.clock"):
        app.dependency_overrides[get_session] = lambda: None
    with pytest.raises(TypeError, match="see no dependency override"):
        app.dependency_overrides.update({get_session: lambda: None})
    assert app.dependency_overrides == {}


async def test_every_answer_writes_date_times_in_utc_with_z(client: httpx.AsyncClient) -> None:
    # A schema holding Beijing time, a dict, a problem's detail: one convention (service_kit.responses).
    assert (await client.get("/api/v1/notes/times")).json() == {
        "at": "2026-12-05T01:30:00Z",
        "on": "2026-12-05",
        "text": "2026-12-05T09:30:00+08:00 is not a time",  # free text is never rewritten
        "nested": ["2026-12-05T01:30:00Z"],
    }
    assert (await client.get("/api/v1/notes/times-dict")).json() == {
        "at": "2026-12-05T01:30:00.250000Z",
        "plain": "2026-12-05T01:30:00Z",
    }
    problem = await client.get("/api/v1/notes/times-problem")
    assert (problem.status_code, problem.headers["content-type"]) == (409, "application/problem+json")
    assert problem.json()["deadline"] == "2026-12-10T10:00:00Z"
    spec = (await client.get("/openapi.json")).json()
    assert "RFC 3339 in UTC with a `Z` suffix" in spec["info"]["description"]


async def test_api_docs_are_served_without_the_internet(client: httpx.AsyncClient) -> None:
    swagger = await client.get("/docs")
    assert swagger.status_code == 200
    assert "cdn" not in swagger.text.lower()
    assert "/docs/assets/swagger-ui-bundle.js" in swagger.text
    script = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle" in script.text
    unknown = await client.get("/docs/assets/evil.js")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok", "service": "kit"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["checks"] == {"database": "ok", "nats": "ok", "worker": "ok"}


async def test_nats_away_is_degraded_and_still_ready(
    service_env: dict[str, Any], kit_db_url: str, test_keys: TestKeys
) -> None:
    """A replica whose database answers can serve (its events wait in the outbox): a readiness probe must not take
    it out of rotation because NATS is away."""
    settings = KitSettings(**service_env, database_url=kit_db_url)
    app = create_service_app(ServiceSpec(name="kit", title="kit", settings=settings, routers=[notes_router()]))
    async with running_app(app) as client:
        runtime: Runtime = app.state.runtime
        assert runtime.nc is not None
        await runtime.nc.close()
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        checks = {"database": "ok", "nats": "down", "worker": "ok"}
        assert ready.json() == {"status": "degraded", "service": "kit", "checks": checks}
        body = {"text": "while NATS is away", "stars": 4}
        written = await client.post("/api/v1/notes", json=body, headers=test_keys.headers("operator"))
        assert written.status_code == 201, written.text


async def test_head_is_answered_as_get_without_the_body(client: httpx.AsyncClient) -> None:
    get = await client.get("/healthz")
    head = await client.head("/healthz")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers["content-type"] == get.headers["content-type"]
    # A path with no GET is still 405, and says which methods it has.
    refused = await client.head("/api/v1/notes")
    assert refused.status_code == 405
    assert "GET" not in refused.headers["allow"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"text": "x", "stars": 9}', "stars"),
        (b'{"text": "", "stars": 3}', "text"),
        (b'{"text": "x", "stars": 3, "owner": "me"}', "owner"),
        (b'{"text": "x", "stars": "three"}', "stars"),
        (b'{"text": "x"', ""),
        (b"[]", ""),
    ],
)
async def test_bad_input_is_a_422_problem(
    client: httpx.AsyncClient, test_keys: TestKeys, body: bytes, field: str
) -> None:
    response = await client.post(
        "/api/v1/notes", content=body, headers=test_keys.headers("operator") | {"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert problem["status"] == 422
    if field:
        assert any(e["field"] == field for e in problem["errors"])


async def test_every_bad_field_is_pointed_at_at_once(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    """RFC 9457 ``errors``: one member per bad field, each with a JSON pointer into the body and its own detail,
    alongside the members clients read before (``field``, ``in``, ``message``, ``type``)."""
    response = await client.post(
        "/api/v1/notes", json={"text": "", "stars": 9, "owner": "me"}, headers=test_keys.headers("operator")
    )
    assert response.status_code == 422
    problem = response.json()
    by_pointer = {e["pointer"]: e for e in problem["errors"]}
    assert set(by_pointer) == {"#/text", "#/stars", "#/owner"}
    text = by_pointer["#/text"]
    assert (text["field"], text["in"], text["type"]) == ("text", "body", "string_too_short")
    assert text["detail"] == text["message"]
    assert text["ctx"] == {"min_length": 1}
    assert by_pointer["#/stars"]["type"] == "less_than_equal"
    # A body that is no object at all points at the whole document.
    not_an_object = await client.post("/api/v1/notes", json=[], headers=test_keys.headers("operator"))
    assert [e["pointer"] for e in not_an_object.json()["errors"]] == ["#"]
    # A query parameter is named as RFC 9457 names one: no pointer into a body it is not in.
    bad_query = await client.post(
        "/api/v1/notes/refusal", params={"keep": "perhaps"}, headers=test_keys.headers("operator")
    )
    assert bad_query.status_code == 422
    (member,) = bad_query.json()["errors"]
    assert "pointer" not in member
    assert (member["in"], member["parameter"], member["field"]) == ("query", "keep", "keep")


async def test_tokens_are_verified(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    body = {"text": "hi", "stars": 3}
    missing = await client.post("/api/v1/notes", json=body)
    assert (missing.status_code, missing.json()["code"]) == (401, "unauthorized")
    garbage = await client.post("/api/v1/notes", json=body, headers={"Authorization": "Bearer not.a.jwt"})
    assert (garbage.status_code, garbage.json()["code"]) == (401, "invalid_token")
    expired = test_keys.token("operator", ttl=timedelta(seconds=-60))
    late = await client.post("/api/v1/notes", json=body, headers={"Authorization": f"Bearer {expired}"})
    assert (late.status_code, late.json()["code"]) == (401, "token_expired")
    forged = TestKeys(Ed25519PrivateKey.generate(), kid=test_keys.kid, jwks_file=test_keys.jwks_file).token("official")
    bad_signature = await client.get("/api/v1/notes/official-only", headers={"Authorization": f"Bearer {forged}"})
    assert bad_signature.status_code == 401
    wrong_role = await client.get("/api/v1/notes/official-only", headers=test_keys.headers("operator"))
    assert (wrong_role.status_code, wrong_role.json()["code"]) == (403, "forbidden")
    right_role = await client.get("/api/v1/notes/official-only", headers=test_keys.headers("official", sub="liu"))
    assert right_role.json() == {"subject": "liu"}


async def test_idempotency_key_replays_the_first_response(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    headers = test_keys.headers("operator", sub="op-1") | {"Idempotency-Key": "call-42"}
    first = await client.post("/api/v1/notes", json={"text": "lunch", "stars": 5}, headers=headers)
    again = await client.post("/api/v1/notes", json={"text": "lunch", "stars": 5}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert calls.count("lunch") == 1

    different = await client.post("/api/v1/notes", json={"text": "dinner", "stars": 5}, headers=headers)
    assert (different.status_code, different.json()["code"]) == (422, "idempotency_key_reused")

    # The same key from another caller is another request.
    other = test_keys.headers("operator", sub="op-2") | {"Idempotency-Key": "call-42"}
    assert (await client.post("/api/v1/notes", json={"text": "lunch", "stars": 5}, headers=other)).status_code == 201


async def test_a_forged_token_never_replays_anothers_stored_response(
    client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    """Straight to the service, with the victim's key and body and a token naming the victim but signed by
    another key (or not signed at all): refused before any stored response is looked up."""
    victim = test_keys.headers("operator", sub="op-victim") | {"Idempotency-Key": "victims-key"}
    stored = await client.post("/api/v1/notes", json={"text": "王秀英 13912345678", "stars": 5}, headers=victim)
    assert stored.status_code == 201
    forger = TestKeys(Ed25519PrivateKey.generate(), kid=test_keys.kid, jwks_file=test_keys.jwks_file)
    unsigned = jwt.encode(
        {**jwt.decode(victim["Authorization"][7:], options={"verify_signature": False})}, key=None, algorithm="none"
    )
    for token in (forger.token("operator", sub="op-victim"), unsigned):
        replay = await client.post(
            "/api/v1/notes",
            json={"text": "王秀英 13912345678", "stars": 5},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "victims-key"},
        )
        assert replay.status_code == 401, replay.text
        assert replay.headers["content-type"] == "application/problem+json"
        assert "idempotent-replayed" not in replay.headers
        assert "13912345678" not in replay.text


async def test_idempotency_concurrent_duplicate_is_a_409(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    headers = test_keys.headers("operator", sub="op-3") | {"Idempotency-Key": "slow-1"}
    release = held["slow"] = asyncio.Event()
    calls.clear()
    first = asyncio.create_task(client.post("/api/v1/notes", json={"text": "slow", "stars": 4}, headers=headers))
    await eventually(lambda: "slow" in calls)  # the first is inside the endpoint, its key reserved
    second = await client.post("/api/v1/notes", json={"text": "slow", "stars": 4}, headers=headers)
    assert (second.status_code, second.json()["code"]) == (409, "idempotency_in_progress")
    release.set()
    assert (await first).status_code == 201
    assert calls == ["slow"]


async def test_a_client_error_is_replayed_too(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    headers = test_keys.headers("operator", sub="op-4") | {"Idempotency-Key": "c-1"}
    first = await client.post("/api/v1/notes", json={"text": "conflict", "stars": 1}, headers=headers)
    second = await client.post("/api/v1/notes", json={"text": "conflict", "stars": 1}, headers=headers)
    assert first.status_code == second.status_code == 409
    assert second.json()["code"] == "note_conflict"
    assert second.headers["content-type"] == "application/problem+json"


async def test_a_secret_shown_once_is_never_kept_for_a_replay(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    headers = test_keys.headers("provider_admin", sub="pa-1") | {"Idempotency-Key": "s-1"}
    first = await client.post("/api/v1/notes/secret", headers=headers)
    assert first.status_code == 201
    again = await client.post("/api/v1/notes/secret", headers=headers)
    assert (again.status_code, again.json()["code"]) == (409, "response_not_replayable")
    assert first.json()["secret"] not in again.text
    assert calls.count("secret") == 1


async def test_invalid_idempotency_key(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    headers = test_keys.headers("operator") | {"Idempotency-Key": "x" * 300}
    response = await client.post("/api/v1/notes", json={"text": "a", "stars": 1}, headers=headers)
    assert (response.status_code, response.json()["code"]) == (422, "invalid_idempotency_key")


async def test_shutdown_ends_a_job_whose_cancellation_a_library_swallowed(
    service_env: dict[str, Any], kit_db_url: str
) -> None:
    """A job inside a library that answers a cancellation by carrying on (as a driver may, mid-operation) still
    ends when the service stops: shutdown ends its loop by ``runtime.running``, it does not wait for it forever."""
    turns: list[int] = []

    async def stubborn(runtime: Runtime) -> None:
        while runtime.running:
            turns.append(1)
            with contextlib.suppress(asyncio.CancelledError):  # as a library that swallows a cancellation
                await asyncio.sleep(0.05)

    settings = KitSettings(**service_env, database_url=kit_db_url)
    app = create_service_app(ServiceSpec(name="kit", title="kit", settings=settings, background_jobs=[stubborn]))
    async with running_app(app):
        await eventually(lambda: len(turns) >= 2)  # the job runs, and has been through its loop
    runtime: Runtime = app.state.runtime
    assert runtime._tasks == []
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "stubborn"]


async def test_shutdown_lets_a_unit_of_work_under_way_finish(
    service_env: dict[str, Any], kit_db_url: str, kit_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A job inside its transaction when the service stops is let commit it (cancelled there, SQLAlchemy would
    reset the connection under it and log a traceback at every deploy); its sleep until the next pass is then
    cut short by the stop."""
    inside, release = asyncio.Event(), asyncio.Event()
    outcome: list[str] = []

    async def writer(runtime: Runtime) -> None:
        while runtime.running:
            try:
                async with runtime.sessionmaker() as session, session.begin():
                    await session.execute(insert(notes).values(id=str(uuid.uuid4()), text="written while stopping"))
                    inside.set()
                    await release.wait()  # a slow statement, still running when the stop begins
            except asyncio.CancelledError:
                outcome.append("cancelled")
                raise
            outcome.append("committed")
            await runtime.sleep(3600)  # until the next pass: the stop cuts it short

    async def sleeper(runtime: Runtime) -> None:
        """Waits between passes when the stop begins: its wait ends at once, and only then may the writer's slow
        statement return (a stop that cancelled everyone after a moment's grace would cancel the writer)."""
        try:
            while runtime.running:
                await runtime.sleep(3600)
        finally:
            release.set()

    settings = KitSettings(**service_env, database_url=kit_db_url)
    jobs = [writer, sleeper]
    app = create_service_app(ServiceSpec(name="kit", title="kit", settings=settings, background_jobs=jobs))
    async with running_app(app):
        runtime: Runtime = app.state.runtime
        await inside.wait()
    assert outcome == ["committed"]
    assert runtime._tasks == []
    async with kit_sessionmaker() as session:
        written = await session.scalar(select(func.count()).select_from(notes).where(notes.c.text.like("written%")))
    assert written == 1


async def test_a_read_does_not_queue_behind_a_writer(
    client: httpx.AsyncClient, test_keys: TestKeys, kit_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A reading unit of work (``ReadSessionDep``) on SQLite begins DEFERRED: while another connection holds
    the write lock, the read answers from the last committed state (it would otherwise wait out the busy
    timeout, then fail)."""
    async with kit_sessionmaker() as writer, writer.begin():
        await writer.execute(insert(notes).values(id=str(uuid.uuid4()), text="uncommitted"))
        response = await client.get("/api/v1/notes/count", headers=test_keys.headers("operator"))
        assert response.status_code == 200, response.text
        assert response.json() == {"notes": 0}
    response = await client.get("/api/v1/notes/count", headers=test_keys.headers("operator"))
    assert response.json() == {"notes": 1}


async def test_a_reading_unit_of_work_cannot_write(kit_db_url: str, kit_engine: AsyncEngine) -> None:
    """An endpoint or consumer that took a reading unit of work and writes fails loudly, on both databases, with
    the kit's own error naming what it tried: a plain write, a write hidden in a WITH, a write in raw SQL. Nothing
    of it reaches the table."""
    reader = reading_engine(kit_db_url, kit_engine)
    moved = update(notes).values(text="moved").returning(notes.c.id).cte("moved")
    attempts = [
        (insert(notes).values(id=str(uuid.uuid4()), text="not here"), "INSERT INTO notes"),
        (select(moved.c.id), "WITH moved AS"),
        (text("delete from notes"), "delete from notes"),
    ]
    try:
        async with create_sessionmaker(reader)() as session:
            assert await session.scalar(select(func.count()).select_from(notes)) == 0
            for statement, shown in attempts:
                with pytest.raises(WriteInReadingUnitOfWork) as refused:
                    await session.execute(statement)
                assert str(refused.value).startswith(f"a unit of work that only reads was asked to write ({shown} …)")
        async with kit_engine.connect() as connection:
            await connection.execute(insert(notes).values(id=str(uuid.uuid4()), text="written elsewhere"))
            await connection.commit()
        async with create_sessionmaker(reader)() as session:  # what others committed, it reads
            assert await session.scalar(select(notes.c.text)) == "written elsewhere"
    finally:
        if reader is not kit_engine:
            await reader.dispose()


async def test_a_read_on_postgresql_sends_its_queries_and_nothing_else(kit_db_url: str) -> None:
    """A reading unit of work on PostgreSQL runs in autocommit: its statements are all the connection sends, no
    BEGIN READ ONLY and ROLLBACK, two round trips each, around them."""
    if not kit_db_url.startswith("postgresql"):
        pytest.skip("SQLite has no round trip to save: its reads begin a DEFERRED transaction in the same process")
    engine = create_engine(kit_db_url, pool_size=1, max_overflow=0)
    reader = reading_engine(kit_db_url, engine)
    sent: list[str] = []  # what the pool's one connection sends besides prepared statements
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        driver.add_query_logger(lambda record: sent.append(record.query))
    async with create_sessionmaker(reader)() as session:
        assert await session.scalar(select(func.count()).select_from(notes)) == 0
        assert (await session.execute(select(notes.c.id))).all() == []
    assert sent == []
    async with create_sessionmaker(engine)() as session, session.begin():  # a writing one still has its transaction
        await session.execute(insert(notes).values(id=str(uuid.uuid4()), text="written"))
    # BEGIN names the isolation level once the connection has been in autocommit: still one round trip.
    assert [query.split()[0] for query in sent] == ["BEGIN", "COMMIT;"]
    await engine.dispose()


async def test_a_racing_duplicate_is_a_409_conflict_and_a_refused_value_a_422(client: httpx.AsyncClient) -> None:
    """Two requests creating the same record at once: the database's unique key refuses the second, which is a
    conflict to look at again, not bad input."""
    note_id = str(uuid.uuid4())
    answers = await asyncio.gather(
        *(client.post("/api/v1/notes/keyed", json={"id": note_id, "text": f"第{n}条"}) for n in range(3))
    )
    assert sorted(a.status_code for a in answers) == [201, 409, 409]
    refused = next(a for a in answers if a.status_code == 409)
    assert refused.headers["content-type"] == "application/problem+json"
    assert (refused.json()["code"], refused.json()["detail"]) == (
        "conflict",
        "This conflicts with a record created or changed at the same moment; look again.",
    )
    # A value no check let through but the database refuses (a note without text) stays a 422.
    missing = await client.post("/api/v1/notes/keyed", json={"id": str(uuid.uuid4()), "text": None})
    assert (missing.status_code, missing.json()["code"]) == (422, "invalid_value")


async def test_a_deadlock_with_a_crossing_request_is_a_503_to_send_again(
    client: httpx.AsyncClient, kit_db_url: str
) -> None:
    """Two requests locking two records in opposite orders: PostgreSQL aborts one. That caller's input was fine and
    nothing of it was written: 503 with Retry-After, never a 422 blaming the value, nor a 500."""
    if not kit_db_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time: two writers never hold a lock each")
    one, other = str(uuid.uuid4()), str(uuid.uuid4())
    for note_id in (one, other):
        assert (await client.post("/api/v1/notes/keyed", json={"id": note_id, "text": "草稿"})).status_code == 201
    crossing["both_hold_one"] = asyncio.Barrier(2)
    crossed = [{"first": one, "second": other}, {"first": other, "second": one}]
    answers = await asyncio.gather(*(client.post("/api/v1/notes/crossed", params=order) for order in crossed))
    assert sorted(a.status_code for a in answers) == [200, 503]
    aborted = next(a for a in answers if a.status_code == 503)
    assert aborted.headers["content-type"] == "application/problem+json"
    assert aborted.headers["retry-after"] == "1"
    assert (aborted.json()["code"], aborted.json()["detail"]) == (
        "retry_transaction",
        "The database stopped this request to let one at the same moment finish; send it again.",
    )
