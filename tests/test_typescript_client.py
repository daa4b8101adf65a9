"""The mobile app's typed client: generated from the gateway's aggregated OpenAPI document with openapi-typescript,
type-checked with tsc, and used by a script (clients/typescript/examples/book-a-service.ts) that signs a resident
in by phone code and books a service through the running stack. The operation ids it names its calls by are
pinned: a renamed operation breaks every app built on the old name, so it changes only with the committed list."""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import subprocess
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from jsonschema import Draft202012Validator

from .conftest import (
    ROOT,
    DevStack,
    eventually_blocking,
    free_slots,
    login,
    new_phone,
    otp_messages,
    provider_with_offering,
)

pytestmark = [pytest.mark.stack, pytest.mark.screens]

CLIENT = ROOT / "clients" / "typescript"
OPERATION_IDS = CLIENT / "operation-ids.txt"
METHODS = ("get", "put", "post", "delete", "patch")
READABLE = re.compile(r"^[a-z][a-zA-Z0-9]*$")
NPM_CACHE = ROOT / "var" / "npm-cache"  # ignored by git; npm ci takes packages from it once they are there


def aggregated_document(gateway: httpx.Client) -> dict[str, Any]:
    """The gateway's OpenAPI document, once every service is in it."""

    def complete() -> dict[str, Any] | None:
        document: dict[str, Any] = gateway.get("/openapi.json").json()
        return None if document.get("x-linli-missing") else document

    found: dict[str, Any] = eventually_blocking(complete)
    return found


def operations(document: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    """(operation id, METHOD, path) of every operation in the document."""
    return [
        (item[method].get("operationId"), method.upper(), path)
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    ]


def committed_operation_ids() -> list[str]:
    return [line for line in OPERATION_IDS.read_text().splitlines() if line and not line.startswith("#")]


def test_every_operation_has_a_readable_unique_id_that_changes_only_with_the_committed_list(
    gateway: httpx.Client,
) -> None:
    listed = operations(aggregated_document(gateway))
    assert len(listed) > 100
    assert [f"{method} {path}" for op_id, method, path in listed if op_id is None] == []
    unreadable = [op_id for op_id, _, _ in listed if op_id and not READABLE.match(op_id)]
    assert unreadable == [], "operation ids are lower camel case (createBooking)"
    ids = [op_id for op_id, _, _ in listed]
    assert sorted({i for i in ids if ids.count(i) > 1}, key=str) == []
    # The main ones the app calls, by the names its developers use.
    named = {f"{method} {path}": op_id for op_id, method, path in listed}
    assert named["POST /api/v1/auth/otp"] == "sendSignInCode"
    assert named["POST /api/v1/auth/otp/verify"] == "signInWithCode"
    assert named["POST /api/v1/bookings"] == "createBooking"
    assert named["GET /api/v1/bookings"] == "listBookings"
    assert named["POST /api/v1/bookings/{booking_id}/cancel"] == "cancelBooking"
    assert named["POST /api/v1/complaints"] == "fileComplaint"

    actual = sorted(f"{op_id} {method} {path}" for op_id, method, path in listed)
    committed = committed_operation_ids()
    changes = "\n".join(difflib.unified_diff(committed, actual, "committed", "served", lineterm=""))
    assert actual == committed, (
        f"The operations differ from {OPERATION_IDS.relative_to(ROOT)}. A renamed or removed operation id breaks "
        f"the apps generated from the old document: if the change is meant, put it in the list (one "
        f"'operationId METHOD path' a line, sorted) and say so in the changelog of the client.\n{changes}"
    )


# The operations a mobile app starts from: each shows an example of what it takes and what it answers.
MAIN_OPERATIONS = {
    "sendSignInCode",
    "signInWithCode",
    "searchNearbyOfferings",
    "quoteBooking",
    "createBooking",
    "listBookings",
    "cancelBooking",
    "fileComplaint",
}


def problems_of(example: Any, schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    """Why ``example`` does not fit ``schema`` (whose ``$ref``s point into the document's components)."""
    validator = Draft202012Validator(
        {**schema, "components": document["components"]}, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(example)]


def test_the_main_operations_carry_request_and_response_examples_their_schemas_accept(gateway: httpx.Client) -> None:
    document = aggregated_document(gateway)
    found: dict[str, list[str]] = {}
    for path, item in document["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None or operation.get("operationId") not in MAIN_OPERATIONS:
                continue
            wrong: list[str] = []
            answers = {
                status: answer["content"]["application/json"]
                for status, answer in operation["responses"].items()
                if status.startswith("2") and "application/json" in answer.get("content", {})
            }
            assert len(answers) == 1, (path, method, answers)
            for status, answer in answers.items():
                if "example" not in answer:
                    wrong.append(f"no example of its {status} answer")
                else:
                    wrong += [f"answer: {p}" for p in problems_of(answer["example"], answer["schema"], document)]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                if "example" not in body:
                    wrong.append("no example of its request body")
                else:
                    wrong += [f"request: {p}" for p in problems_of(body["example"], body["schema"], document)]
            for parameter in operation.get("parameters", []):
                if parameter["in"] in ("path", "query") and parameter.get("required") and "example" not in parameter:
                    wrong.append(f"no example of its parameter {parameter['name']}")
                if "example" in parameter:
                    wrong += [
                        f"parameter {parameter['name']}: {p}"
                        for p in problems_of(parameter["example"], parameter["schema"], document)
                    ]
            found[operation["operationId"]] = wrong
    assert set(found) == MAIN_OPERATIONS
    assert {op_id: wrong for op_id, wrong in found.items() if wrong} == {}


# ---- the generated client

NODE, NPM = shutil.which("node"), shutil.which("npm")
needs_node = pytest.mark.skipif(
    NODE is None or NPM is None,
    reason="node and npm are not installed here: the TypeScript client cannot be generated or type-checked (CI has "
    "node 20)",
)


def run(*command: str, timeout: float = 600, env: dict[str, str] | None = None) -> str:
    """Runs ``command`` in clients/typescript; its output, or a failure showing it."""
    done = subprocess.run(
        command,
        cwd=CLIENT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def built_client(stack: DevStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The client generated from the running stack's document, type-checked and compiled: its dist folder."""
    assert NPM is not None
    with httpx.Client(base_url=stack.gateway_url, timeout=30.0) as gateway:
        document = aggregated_document(gateway)
    openapi = tmp_path_factory.mktemp("openapi") / "openapi.json"
    openapi.write_text(json.dumps(document))
    # The locked versions (package-lock.json), exactly; from the cache under var/ when it has them.
    run(NPM, "ci", "--no-audit", "--no-fund", "--prefer-offline", "--cache", str(NPM_CACHE))
    run(NPM, "run", "--silent", "generate", env={"LINLI_OPENAPI": str(openapi)})
    assert "createBooking" in (CLIENT / "generated" / "linli.d.ts").read_text()
    run(NPM, "run", "--silent", "check")
    run(NPM, "run", "--silent", "build")
    return CLIENT / "dist"


@needs_node
def test_the_generated_client_type_checks_and_a_resident_books_with_it(
    gateway: httpx.Client, stack: DevStack, built_client: Path
) -> None:
    assert NODE is not None
    provider = provider_with_offering(gateway, f"乐龄食堂{uuid.uuid4().int % 10**4:04d}", "午间助餐")
    # Booking has learned the offering (by event) before the resident looks for it.
    free_slots(gateway, provider["offering_id"], login(gateway, "operator"))
    phone = new_phone()

    script = subprocess.Popen(
        [NODE, str(built_client / "examples" / "book-a-service.js"), phone, "陈桂芳", provider["id"]],
        cwd=CLIENT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LINLI_GATEWAY_URL": stack.gateway_url},
    )
    try:
        assert script.stdout is not None
        assert script.stdin is not None
        first = script.stdout.readline()
        assert first, script.stderr.read() if script.stderr else ""
        assert json.loads(first)["step"] == "code_sent"
        # She reads the code from her phone (the fake SMS sender's record) and types it in.
        code = re.search(r"\d{6}", otp_messages(gateway, phone)[0]["text"])
        assert code is not None
        out, err = script.communicate(code.group() + "\n", timeout=180)
    finally:
        if script.poll() is None:
            script.kill()
            script.wait()
    assert script.returncode == 0, f"{out}\n{err}"
    steps = {line["step"]: line for line in map(json.loads, out.splitlines())}
    quoted, booked = steps["quoted"], steps["booked"]

    # What she sees: the service's name, its time (the offering's first sitting, 11:00 in the district), her
    # price (no program funds it) and the booking among her own, waiting for the provider.
    assert booked["service"] == quoted["service"] == "午间助餐"
    start = datetime.fromisoformat(booked["slot_start"]).astimezone(ZoneInfo("Asia/Shanghai"))
    assert (start.hour, start.minute) == (11, 0)
    assert datetime.fromisoformat(quoted["slot_start"]) == datetime.fromisoformat(booked["slot_start"])
    assert quoted["price_fen"] == booked["price_fen"] == 1500
    assert booked["status"] == "requested"
    # The provider sees the same booking, for the resident who signed in.
    theirs = gateway.get(f"/api/v1/bookings/{booked['booking_id']}", headers=provider["admin"])
    assert theirs.status_code == 200, theirs.text
    assert theirs.json()["resident_id"] == steps["registered"]["resident_id"]
    assert theirs.json()["offering_id"] == provider["offering_id"]
