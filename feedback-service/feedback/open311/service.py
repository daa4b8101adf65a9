"""Open311 GeoReport v2 onto complaints and needs.

- ``service_code`` ``complaint.<category>`` files a complaint (attributes ``target_kind`` and ``target_id`` say
  what about); ``need.<domain>`` records a need or suggestion (attribute ``community_code`` groups it).
- ``service_request_id`` is the complaint's or need's id. ``status`` is ``open`` / ``closed`` as the standard
  has it; our detailed state (submitted, acknowledged, investigating, reopened, resolved, closed) is in
  ``status_notes``. A need stays ``open``: it waits in procurement's needs pool.
- Filing needs a signed-in caller (``Authorization: Bearer``): a resident files for themself, staff for a
  resident. The gateway exchanges a 311 client's API key for such a token, so the standard's ``api_key``
  parameter is accepted and not otherwise used, and the contact fields (``email``, ``first_name``,
  ``last_name``, ``phone``, ``device_id``, ``account_id``) are ignored: Linli knows who files, and does not
  copy personal data from a form it cannot verify.
- Reads are public, so they carry no personal data: no resident id, no address (``address`` is always
  null), a position rounded to 3 decimals (about 100 m), and the description and media only for whom may
  read the complaint or need in full (its resident, operators, officials).
"""

import json
import uuid
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.complaints import service as complaints_service
from feedback.complaints.models import AssigneeKind, Channel, ComplaintCategory
from feedback.complaints.models import Complaint as ComplaintModel
from feedback.complaints.repository import UNRESOLVED
from feedback.complaints.schemas import ComplaintCreate
from feedback.config import Settings
from feedback.needs import service as needs_service
from feedback.needs.models import Need as NeedModel
from feedback.needs.schemas import NeedCreate
from feedback.open311 import catalog, repository
from feedback.open311.catalog import COMPLAINT_PREFIX, NEED_PREFIX
from service_kit.auth import Principal, Role
from service_kit.errors import NotFound, ValidationFailed
from service_kit.timeutil import SHANGHAI, utcnow

MAX_BODY = 64 * 1024
MAX_ADDRESS = 300
# The standard's defaults for GET requests.json: the last 90 days, at most 1000 requests.
DEFAULT_WINDOW = timedelta(days=90)
MAX_REQUESTS = 1000
MAX_IDS = 100
M = TypeVar("M", ComplaintCreate, NeedCreate)
DISTRICT_OFFICE = "房山区社会办 Fangshan District Social Affairs Office"


def list_services() -> list[dict[str, Any]]:
    return [service.as_open311() for service in catalog.SERVICES.values()]


def service_definition(service_code: str) -> dict[str, Any]:
    service = catalog.SERVICES.get(service_code)
    if service is None:
        raise NotFound(f"No service with the code {service_code!r}.")
    return service.definition()


# ------------------------------------------------------------------ filing


def parse_request_body(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, str]]:
    """The fields and ``attribute[...]`` values of a POST, form-encoded (the standard's way) or JSON."""
    if len(body) > MAX_BODY:
        raise ValidationFailed("The request is too large.")
    media_type = content_type.split(";", 1)[0].strip().lower()
    pairs: list[tuple[str, Any]]
    if media_type == "application/x-www-form-urlencoded" or (not body and not media_type):
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=100)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValidationFailed("The form is not valid UTF-8 form encoding.") from exc
    elif media_type == "application/json":
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValidationFailed("The body is not valid JSON.") from exc
        if not isinstance(document, dict):
            raise ValidationFailed("The JSON body must be an object.")
        pairs = []
        for key, value in document.items():
            if key == "attribute" and isinstance(value, dict):
                pairs += [(f"attribute[{k}]", v) for k, v in value.items()]
            else:
                pairs.append((key, value))
    else:
        raise ValidationFailed("Send application/x-www-form-urlencoded or application/json.")

    fields: dict[str, str] = {}
    attributes: dict[str, str] = {}
    for key, value in pairs:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValidationFailed(f"{key}: expected a single value.")
        text = str(value).strip()
        if key.startswith("attribute[") and key.endswith("]"):
            attributes[key[10:-1]] = text
        else:
            fields[key] = text
    return fields, attributes


async def file_request(
    session: AsyncSession,
    fields: dict[str, str],
    attributes: dict[str, str],
    *,
    by: Principal,
    settings: Settings,
) -> list[dict[str, Any]]:
    code = fields.get("service_code", "")
    if not code:
        raise ValidationFailed("service_code is required.")
    if code not in catalog.SERVICES:
        raise ValidationFailed(f"service_code {code!r} is not a service; see services.json.")
    try:
        return await _file(session, code, fields, attributes, by=by, settings=settings)
    except ValidationFailed as exc:
        raise _in_open311_terms(exc) from exc


async def _file(
    session: AsyncSession,
    code: str,
    fields: dict[str, str],
    attributes: dict[str, str],
    *,
    by: Principal,
    settings: Settings,
) -> list[dict[str, Any]]:
    lat, long = _position(fields)
    address = fields.get("address_string") or None
    if address is not None and len(address) > MAX_ADDRESS:
        raise ValidationFailed(f"address_string: at most {MAX_ADDRESS} characters.")
    description = fields.get("description", "")

    if code.startswith(COMPLAINT_PREFIX):
        media = fields.get("media_url")
        data = _validated(
            ComplaintCreate,
            target_kind=attributes.get("target_kind") or None,
            target_id=attributes.get("target_id") or None,
            provider_id=attributes.get("provider_id") or None,
            resident_id=attributes.get("resident_id") or None,
            community_code=attributes.get("community_code") or None,
            category=code.removeprefix(COMPLAINT_PREFIX),
            severity=attributes.get("severity") or "normal",
            description=description,
            attachments=[media] if media else [],
        )
        complaint = await complaints_service.file_complaint(
            session, data, by=by, settings=settings, channel=Channel.open311, address=address, lat=lat, long=long
        )
        notice = f"Acknowledgement due by {_w3c(complaint.ack_due_at)}."
        return [{"service_request_id": str(complaint.id), "service_notice": notice, "account_id": None}]

    need = await needs_service.submit_need(
        session,
        _validated(
            NeedCreate,
            kind=attributes.get("kind") or "need",
            category_code=catalog.SERVICES[code].category_code,
            community_code=attributes.get("community_code") or None,
            target_group=attributes.get("target_group") or None,
            text=description,
            resident_id=attributes.get("resident_id") or None,
        ),
        by=by,
        via_open311=True,
    )
    notice = f"Recorded in the needs pool with {need.group_count} similar request(s)."
    return [{"service_request_id": str(need.id), "service_notice": notice, "account_id": None}]


# The names a 311 client knows a refused field by (``feedback.reference`` names the REST API's fields); the rest
# are attributes (``target_id`` → ``attribute[target_id]``).
_OPEN311_NAMES = {"category_code": "service_code", "category": "service_code"}


def _in_open311_terms(exc: ValidationFailed) -> ValidationFailed:
    """A refusal of the REST API's rules, naming the field as the 311 client sent it (``attribute[target_id]``)."""
    errors = exc.extra.get("errors")
    if not errors:
        return exc
    field = str(errors[0]["field"])
    name = _OPEN311_NAMES.get(field, f"attribute[{field}]")
    return ValidationFailed(f"{name}: {errors[0]['message']}", code=exc.code)


def _validated(model: type[M], **values: Any) -> M:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        name = "description" if where in ("description", "text") else f"attribute[{where}]"
        if where in ("category", "category_code"):
            name = "service_code"
        if where.startswith("attachments"):
            name = "media_url"
        raise ValidationFailed(f"{name}: {first['msg']}") from exc


def _position(fields: dict[str, str]) -> tuple[float | None, float | None]:
    raw_lat, raw_long = fields.get("lat") or None, fields.get("long") or None
    if raw_lat is None and raw_long is None:
        return None, None
    try:
        lat, long = float(raw_lat or "nan"), float(raw_long or "nan")
    except ValueError as exc:
        raise ValidationFailed("lat and long must be numbers.") from exc
    if not (-90 <= lat <= 90 and -180 <= long <= 180):
        raise ValidationFailed("lat and long must both be given, as WGS-84 degrees.")
    return lat, long


# ------------------------------------------------------------------ reading


async def find_requests(
    session: AsyncSession,
    *,
    viewer: Principal | None,
    service_request_id: str | None,
    service_code: str | None,
    start_date: str | None,
    end_date: str | None,
    status: str | None,
) -> list[dict[str, Any]]:
    """GET requests.json. Without ids or dates it answers the standard's default: the last 90 days."""
    ids = _ids(service_request_id) if service_request_id else None
    start, end = _date(start_date, "start_date"), _date(end_date, "end_date")
    if ids is None and start is None and end is None:
        start = utcnow() - DEFAULT_WINDOW
    if status is not None and status not in ("open", "closed"):
        raise ValidationFailed("status must be open or closed.")
    categories: list[ComplaintCategory] | None = None
    domains: list[str] | None = None
    if service_code:
        codes = [c.strip() for c in service_code.split(",") if c.strip()]
        unknown = [c for c in codes if c not in catalog.SERVICES]
        if unknown:
            raise ValidationFailed(f"service_code {unknown[0]!r} is not a service.")
        categories = [
            ComplaintCategory(c.removeprefix(COMPLAINT_PREFIX)) for c in codes if c.startswith(COMPLAINT_PREFIX)
        ]
        domains = [category for c in codes if c.startswith(NEED_PREFIX) for category in catalog.need_categories(c)]

    found: list[tuple[datetime, dict[str, Any]]] = []
    complaints = await repository.find_complaints(
        session, ids=ids, categories=categories, start=start, end=end, status=status, limit=MAX_REQUESTS
    )
    found += [(c.created_at, _complaint_request(c, viewer)) for c in complaints]
    if status != "closed":
        needs = await repository.find_needs(session, ids=ids, domains=domains, start=start, end=end, limit=MAX_REQUESTS)
        found += [(n.created_at, _need_request(n, count, viewer)) for n, count in needs]
    found.sort(key=lambda pair: pair[0], reverse=True)
    return [request for _, request in found[:MAX_REQUESTS]]


async def get_request(session: AsyncSession, request_id: str, *, viewer: Principal | None) -> list[dict[str, Any]]:
    (found,) = _ids(request_id, limit=1)
    complaints = await repository.find_complaints(
        session, ids=[found], categories=None, start=None, end=None, status=None, limit=1
    )
    if complaints:
        return [_complaint_request(complaints[0], viewer)]
    needs = await repository.find_needs(session, ids=[found], domains=None, start=None, end=None, limit=1)
    if needs:
        return [_need_request(needs[0][0], needs[0][1], viewer)]
    raise NotFound(f"No service request {request_id}.")


def _ids(raw: str, *, limit: int = MAX_IDS) -> list[uuid.UUID]:
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts or len(parts) > limit:
        raise ValidationFailed(f"service_request_id: between 1 and {limit} ids.")
    try:
        return [uuid.UUID(p) for p in parts]
    except ValueError as exc:
        raise ValidationFailed("service_request_id: not a request id.") from exc


def _date(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationFailed(f"{name}: a W3C datetime like 2026-11-26T08:00:00+08:00.") from exc
    if value.tzinfo is None:
        raise ValidationFailed(f"{name}: give the time zone offset.")
    return value


def _w3c(value: datetime) -> str:
    return value.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _rounded(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def _reads_in_full(viewer: Principal | None, resident_id: uuid.UUID | None) -> bool:
    if viewer is None:
        return False
    if viewer.has_any(Role.official, Role.admin, Role.operator):
        return True
    return viewer.resident_id is not None and viewer.resident_id == resident_id


def _complaint_request(complaint: ComplaintModel, viewer: Principal | None) -> dict[str, Any]:
    service = catalog.service_of_complaint(complaint.category.value)
    is_open = complaint.status in UNRESOLVED
    full = _reads_in_full(viewer, complaint.resident_id)
    notes = complaint.status.value + (" (overdue)" if complaints_service.is_overdue(complaint, utcnow()) else "")
    return {
        "service_request_id": str(complaint.id),
        "status": "open" if is_open else "closed",
        "status_notes": notes,
        "service_name": service.name,
        "service_code": service.code,
        "description": complaint.description if full else None,
        "agency_responsible": "provider" if complaint.assignee_kind == AssigneeKind.provider else DISTRICT_OFFICE,
        "service_notice": None,
        "requested_datetime": _w3c(complaint.created_at),
        "updated_datetime": _w3c(complaint.updated_at),
        "expected_datetime": _w3c(complaint.resolve_due_at) if is_open else None,
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": _rounded(complaint.lat),
        "long": _rounded(complaint.long),
        "media_url": complaint.attachments[0] if full and complaint.attachments else None,
    }


def _need_request(need: NeedModel, group_count: int, viewer: Principal | None) -> dict[str, Any]:
    service = catalog.service_of_need(need.category_code)
    return {
        "service_request_id": str(need.id),
        "status": "open",
        "status_notes": f"in the needs pool ({need.kind.value}); {group_count} similar request(s)",
        "service_name": service.name if service else need.category_code,
        "service_code": service.code if service else f"{NEED_PREFIX}{need.category_code}",
        "description": need.text if _reads_in_full(viewer, need.resident_id) else None,
        "agency_responsible": DISTRICT_OFFICE,
        "service_notice": None,
        "requested_datetime": _w3c(need.created_at),
        "updated_datetime": _w3c(need.created_at),
        "expected_datetime": None,
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }
