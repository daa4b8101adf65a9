"""Every operation in the gateway's aggregated OpenAPI, fuzzed with schemathesis through the real stack:
whatever a client sends — valid, malformed or hostile — the answer is never a 5xx, and every error is
problem+json."""

from __future__ import annotations

import os
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, find, given, settings
from hypothesis.strategies import from_regex
from schemathesis import Case

from service_kit.testing import eventually_blocking

from .conftest import (
    RATIONALE,
    STACK_ENV,
    DevStack,
    award_terms,
    book_for,
    free_slots,
    login,
    new_account,
    new_fund,
    new_phone,
    new_provider,
    new_uscc,
    own_stack,
    publish_offering,
    registered_by_operator,
    resident_in_the_app,
    signed_direct_award,
    wait_until_communities_known,
)

pytestmark = [pytest.mark.stack, pytest.mark.slow_module]

# Hypothesis's first examples per operation are its most telling (empty, boundary, wrong-typed values); five of
# each keep ``make test`` within its time. A deeper sweep: LINLI_FUZZ_EXAMPLES=50 pytest tests/test_fuzz.py.
EXAMPLES_PER_OPERATION = int(os.environ.get("LINLI_FUZZ_EXAMPLES", "5"))


def content_type(_case: Case, response: schemathesis.Response) -> str:
    value = response.headers.get("content-type") or [""]
    return value[0] if isinstance(value, list) else str(value)


def is_error_document(case: Case, response: schemathesis.Response) -> bool:
    """problem+json everywhere, except the Open311 facade, whose clients expect the GeoReport v2 error list."""
    if content_type(case, response).startswith("application/problem+json"):
        return True
    if case.formatted_path.startswith("/open311/") and case.formatted_path.endswith(".xml"):
        errors = ET.fromstring(response.content)
        items = errors.findall("error")
        return (
            errors.tag == "errors"
            and bool(items)
            and all(e.findtext("code") and e.findtext("description") for e in items)
        )
    if case.formatted_path.startswith("/open311/"):
        body = response.json()
        return isinstance(body, list) and all({"code", "description"} <= set(item) for item in body)
    return False


def test_no_server_errors(stack: DevStack, report_figure: Callable[[str], None]) -> None:
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        headers = login(client, "admin")

        # The gateway gathers and merges every service's document, each rendered on its first request: on a busy
        # machine that took more than schemathesis's own 10 s (a clean-clone run failed on it). Fuzzed only whole:
        # a service that did not answer the gateway in time is left out of the document (and asked again a second
        # later), and would be left out of the fuzzing.
        def whole() -> dict[str, Any] | None:
            document: dict[str, Any] = client.get("/openapi.json").json()
            return None if document["x-linli-missing"] else document

        document = eventually_blocking(whole, timeout=120)
    assert document is not None
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def call(case: Case) -> None:
            response = case.call(base_url=stack.gateway_url, headers=headers, timeout=30)
            statuses[response.status_code] += 1
            where = f"{case.method} {case.formatted_path} → {response.status_code}"
            if response.status_code >= 500:
                failures.append(f"{where}: {response.text[:300]}")
            elif response.status_code >= 400 and not is_error_document(case, response):
                failures.append(f"{where}: not problem+json: {response.text[:200]}")

        call()
    report_figure(
        f"fuzzed {operations} operations: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}"
    )
    assert operations > 20
    assert failures == []
    assert statuses[200] + statuses[201] > 0, "nothing succeeded: the fuzzer only reached validation"


# ---------------------------------------------------------------------------------------------------------------
# Times at the ends of the calendar. A date-time with no UTC equivalent (``0001-01-01T00:00+14:00``) or a date a
# rule's arithmetic carries past year 9999 once reached code that converts it and failed with OverflowError (a 500).
# Every operation of every service (the gateway's own too) with a date or date-time in its parameters or JSON body
# is sent a minimal valid request (built from its schema, with the ids of a small world of real records) whose one
# such field is an extreme: the answer is never a 5xx. A date-time is an Instant everywhere, refused at its field
# (422) beyond the years 1800–2999, whether UTC has no moment for it or Beijing's calendar has no day for it; a date
# may be stored where no rule counts from it, and is then read back without a 5xx.

EXTREMES = {
    "date-time": (
        "0001-01-01T00:00:00+14:00",  # no UTC moment
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",  # the year 10000 in Beijing
    ),
    "date": ("0001-01-01", "9999-12-31"),
}
SOME_ID = "5f0b8a7c-0000-4000-8000-00000000e6e6"  # an id nothing has


class Field(NamedTuple):
    location: str  # query, path, body
    name: str  # the parameter's, or the body's JSON pointer (#/evidence/verified_on, #/exceptions/0/date)
    tokens: tuple[str, ...]  # the path from the parameter or body to the field ("-" for an array's item)
    format: str


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].removeprefix("#/components/schemas/")]
    return schema


def options(doc: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives a value of ``schema`` may take, nulls last (none for a plain schema: itself)."""
    schema = resolve(doc, schema)
    alternatives = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if not alternatives:
        return [schema]
    found = [o for a in alternatives for o in options(doc, a)]
    return sorted(found, key=lambda o: o.get("type") == "null")


def date_fields(doc: dict[str, Any], schema: dict[str, Any], tokens: tuple[str, ...] = (), depth: int = 0) -> list[Any]:
    """Every (tokens, format) of a date or date-time within ``schema``: nested objects, arrays, references."""
    found: list[Any] = []
    if depth > 6:
        return found
    for option in options(doc, schema):
        if option.get("format") in EXTREMES:
            found.append((tokens, option["format"]))
        for name, sub in option.get("properties", {}).items():
            found += date_fields(doc, sub, (*tokens, name), depth + 1)
        if "items" in option:
            found += date_fields(doc, option["items"], (*tokens, "-"), depth + 1)
    return list(dict.fromkeys(found))


def minimal(doc: dict[str, Any], schema: dict[str, Any], name: str, ids: dict[str, Any], override: Any = None) -> Any:
    """A value of ``schema`` that its validation accepts, with ``override`` = (tokens, value) set inside it."""
    tokens, value = override if override is not None else ((), None)
    if override is not None and tokens == ():
        return value

    def inside(key: str) -> Any:
        return (tokens[1:], value) if override is not None and tokens[:1] == (key,) else None

    choices = options(doc, schema)
    if tokens:  # the alternative that holds the field
        choices = [
            o for o in choices if (tokens[0] == "-" and "items" in o) or tokens[0] in o.get("properties", {})
        ] or choices
    schema = choices[0]
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    if "default" in schema and not tokens and schema["default"] is not None:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        body = {
            key: minimal(doc, properties[key], key, ids, inside(key))
            for key in properties
            if key in schema.get("required", ()) or key in ids or inside(key) is not None
        }
        return body
    if kind == "array":
        count = max(schema.get("minItems", 0), 1 if tokens else 0)
        return [minimal(doc, schema["items"], name, ids, inside("-")) for _ in range(count)]
    if kind == "integer" or kind == "number":
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in schema else 1)
        return min(int(low) if kind == "integer" else low, schema.get("maximum", low))
    if kind == "boolean":
        return False
    if kind == "string":
        return minimal_string(schema, name, ids)
    return None


def minimal_string(schema: dict[str, Any], name: str, ids: dict[str, Any]) -> str:
    soon = datetime.now(UTC) + timedelta(days=7)
    match schema.get("format"):
        case "uuid":
            return ids.get(name, SOME_ID)
        case "date":
            return soon.date().isoformat()
        case "date-time":
            return soon.isoformat().replace("+00:00", "Z")
        case "email":
            return "linli@example.com"
        case "uri":
            return "https://example.com/linli"
    if name in ids:
        return ids[name]
    if "phone" in name:
        return new_phone()
    if name == "uscc":
        return new_uscc()
    if "pattern" in schema:
        found: str = find(
            from_regex(schema["pattern"], fullmatch=True),
            lambda _: True,
            settings=settings(database=None, derandomize=True),
        )
        return found
    length = max(schema.get("minLength", 1), 1)
    return ("邻里测试" * length)[: min(max(length, 4), schema.get("maxLength", 4))]


def parameter_request(
    doc: dict[str, Any], operation: dict[str, Any], ids: dict[str, Any], field: Field | None, value: str
) -> tuple[dict[str, str], dict[str, Any]]:
    """(path parameters, query) of ``operation``: required ones (and the field's), minimal."""
    path: dict[str, str] = {}
    query: dict[str, Any] = {}
    for parameter in operation.get("parameters", []):
        where, name = parameter["in"], parameter["name"]
        chosen = field is not None and field.location == where and field.name == name
        if chosen or (where in ("path", "query") and (parameter.get("required") or name in ids)):
            override = (field.tokens, value) if chosen and field is not None else None
            found = minimal(doc, parameter.get("schema", {}), name, ids, override)
            (path if where == "path" else query)[name] = str(found) if where == "path" else found
    return path, query


def operations_with_dates(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], list[Field]]]:
    found = []
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            fields = [
                Field(p["in"], p["name"], tokens, fmt)
                for p in operation.get("parameters", [])
                for tokens, fmt in date_fields(doc, p.get("schema", {}))
            ]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                fields += [
                    Field("body", "#/" + "/".join(t.replace("-", "0") for t in tokens), tokens, fmt)
                    for tokens, fmt in date_fields(doc, body["schema"])
                ]
            if fields:
                found.append((method, path, operation, fields))
    return found


def names_field(response: httpx.Response, field: Field) -> bool:
    """The 422's errors name the field: its JSON pointer in the body, or the parameter."""
    errors = response.json().get("errors", [])
    if field.location == "body":
        return any(e.get("pointer") == field.name for e in errors)
    return any(e.get("in") == field.location and field.name in (e.get("parameter"), e.get("field")) for e in errors)


@pytest.fixture(scope="module")
def extremes_stack(tmp_path_factory: pytest.TempPathFactory, _database_factory_session: Any) -> Iterator[DevStack]:
    """A stack of the module's own: the extremes are stored in its records, which no other test reads."""
    with own_stack(tmp_path_factory, _database_factory_session, "extremes", STACK_ENV) as dev:
        wait_until_communities_known(dev.gateway_url)
        yield dev


def world(gateway: httpx.Client) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Real records whose ids the requests name, and the callers to try (the first that passes auth is taken)."""
    operator = login(gateway, "operator")
    provider = new_provider(gateway, f"极值测试{uuid.uuid4().hex[:4]}")
    offering_id = publish_offering(
        gateway,
        provider,
        "极值老年餐桌",
        weekly_rules=[{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)],
    )
    resident = registered_by_operator(gateway, operator, name="极值测试居民")
    fund_id = new_fund(gateway, "极值测试资金", 150_000)
    terms = award_terms(
        "极值测试直接委托",
        provider["id"],
        offering_id,
        150_000,
        fund_id=fund_id,
        rationale=RATIONALE,
    )
    contract = signed_direct_award(
        gateway, terms, new_account(gateway, "official", "李处长").headers, provider["admin"]
    )
    slot = free_slots(gateway, offering_id, operator)[0]
    booking = book_for(gateway, operator, offering_id, slot["start"], resident["id"])
    app_resident, _record, _phone = resident_in_the_app(gateway, "极值测试用户")
    ids = {
        "resident_id": resident["id"],
        "offering_id": offering_id,
        "provider_id": provider["id"],
        "organization_id": provider["id"],
        "contract_id": contract["id"],
        "booking_id": booking["id"],
        "fund_id": fund_id,
        "tag": "age_80_plus",
        "category_code": "elderly.meal_table",
        "community_code": "gongchen.shidai_jiahe",
        "weekdays": list(range(7)),
    }
    callers = [
        login(gateway, "admin"),
        operator,
        login(gateway, "official"),
        provider["admin"],
        app_resident,
        login(gateway, "evaluator"),
        login(gateway, "reviewer"),
        login(gateway, "auditor"),
    ]
    return ids, callers


def test_no_time_at_the_ends_of_the_calendar_is_a_server_error(
    extremes_stack: DevStack, report_figure: Callable[[str], None]
) -> None:
    with httpx.Client(base_url=extremes_stack.gateway_url, timeout=30) as gateway:
        ids, callers = world(gateway)
        doc = gateway.get("/openapi.json").json()
        failures: list[str] = []
        statuses: Counter[int] = Counter()
        operations = operations_with_dates(doc)
        for method, path, operation, fields in operations:
            body_schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            for field in fields:
                for value in EXTREMES[field.format]:
                    params, query = parameter_request(doc, operation, ids, field, value)
                    body = None
                    if body_schema is not None:
                        override = (field.tokens, value) if field.location == "body" else None
                        body = minimal(doc, body_schema, "", ids, override)
                    url = path.format(**params)
                    where = f"{method.upper()} {path} {field.location}:{field.name}={value}"
                    for headers in callers:
                        response = gateway.request(method, url, params=query, json=body, headers=headers)
                        if response.status_code not in (401, 403):
                            break
                    statuses[response.status_code] += 1
                    if response.status_code >= 500:
                        failures.append(f"{where} → {response.status_code}: {response.text[:300]}")
                    elif response.status_code in (401, 403):
                        failures.append(f"{where} → {response.status_code}: no caller passes its auth")
                    elif response.status_code >= 400 and not response.headers.get("content-type", "").startswith(
                        "application/problem+json"
                    ):
                        failures.append(f"{where} → {response.status_code}: not problem+json: {response.text[:200]}")
                    elif field.format == "date-time" and not (
                        response.status_code == 422 and names_field(response, field)
                    ):
                        failures.append(
                            f"{where} → {response.status_code}, not refused at its field: {response.text[:300]}"
                        )
                    elif response.status_code < 300:
                        failures += read_back(gateway, doc, method, path, url, response, headers, where)
        report_figure(
            f"times at the calendar's ends: {len(operations)} operations, {sum(statuses.values())} requests, "
            f"statuses {dict(sorted(statuses.items()))}"
        )
        # The walk reached every service, through parameters, references, nested objects and arrays.
        found = {(path, field.name) for _method, path, _operation, fields in operations for field in fields}
        assert {
            ("/api/v1/bookings", "created_from"),
            ("/api/v1/residents/{resident_id}/calls", "#/callback/due_at"),
            ("/api/v1/offerings", "#/exceptions/0/date"),
            ("/open-data/hsds/services", "modified_after"),
            ("/api/v1/complaints/report", "since"),
            ("/api/v1/contracts/{contract_id}/disbursements", "#/paid_on"),
        } <= found
        assert len(operations) > 30
        assert not failures, "\n".join(failures)


def read_back(
    gateway: httpx.Client,
    doc: dict[str, Any],
    method: str,
    path: str,
    url: str,
    response: httpx.Response,
    headers: dict[str, str],
    where: str,
) -> list[str]:
    """What took an extreme is read back where the API shows it: the record, and the list it joined."""
    reads = []
    created = response.json() if response.content and response.headers.get("content-type", "").endswith("json") else {}
    if method != "get" and "get" in doc["paths"].get(path, {}):
        reads.append(url)
    item = next((p for p in doc["paths"] if p.startswith(path + "/{") and p.count("/") == path.count("/") + 1), None)
    if isinstance(created, dict) and "id" in created and item and "get" in doc["paths"][item]:
        reads.append(item.split("/{")[0] + "/" + str(created["id"]))
    failures = []
    for read in reads:
        answer = gateway.get(read, headers=headers)
        if answer.status_code >= 500:
            failures.append(f"{where}, then GET {read} → {answer.status_code}: {answer.text[:300]}")
    return failures
