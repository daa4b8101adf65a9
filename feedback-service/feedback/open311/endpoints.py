"""The Open311 GeoReport v2 routes, under ``/open311/v2``.

An exception to the house rule: everywhere else Linli answers errors as RFC 9457 problem+json, but GeoReport
v2 clients expect the standard's error list, ``[{"code": 400, "description": "..."}]`` with the HTTP status
alike. ``Open311Route`` renders every error of these routes (ours, request validation, HTTP errors) that way;
a 422 of ours becomes the standard's 400.

Every route answers in both of the standard's formats, by its suffix: ``.json``, and ``.xml`` (the standard's
default; service_kit.georeport), errors included. A ``jurisdiction_id`` other than the one configured
(``LINLI_OPEN311_JURISDICTION_ID``) is refused with 404: this endpoint serves one jurisdiction.
"""

import functools
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from feedback.config import Settings, SettingsDep
from feedback.open311 import media, service
from service_kit import georeport
from service_kit.auth import CurrentPrincipal, OptionalPrincipal
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.documents import Documents
from service_kit.errors import LinliError, NotFound
from service_kit.operation_ids import prefixed
from service_kit.responses import StandardDocumentResponse
from service_kit.routing import service_router


def open311_error(status: int, description: str, *, as_xml: bool = False) -> Response:
    return georeport.error_response(".xml" if as_xml else ".json", status, description)


class Open311Route(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def open311_handler(request: Request) -> Response:
            as_xml = request.url.path.endswith(".xml")
            try:
                return await handler(request)
            except LinliError as exc:
                return open311_error(exc.status, exc.detail or exc.title, as_xml=as_xml)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
                name = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
                return open311_error(400, f"{name}: {first.get('msg', 'invalid')}", as_xml=as_xml)
            except StarletteHTTPException as exc:
                return open311_error(exc.status_code, str(exc.detail), as_xml=as_xml)

        return open311_handler


# GeoReport documents keep their W3C date-times in Beijing time (service_kit.responses.StandardDocumentResponse).
router = service_router(
    prefix="/open311/v2",
    tags=["open311"],
    route_class=Open311Route,
    default_response_class=StandardDocumentResponse,
    # open311ListServices: GeoReport's names, apart from Linli's own and HSDS's.
    generate_unique_id_function=prefixed("open311"),
)

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": "Open311 error list: [{code, description}]"} for status in (400, 401, 403, 404)
}

Text = Annotated[str | None, Query(max_length=4000)]

_REQUEST_FIELDS: dict[str, Any] = {
    "type": "object",
    "required": ["service_code"],
    "properties": {
        name: {"type": "string"}
        for name in (
            "service_code",
            "description",
            "lat",
            "long",
            "address_string",
            "media_url",
            "api_key",
            "attribute[target_kind]",
            "attribute[target_id]",
            "attribute[community_code]",
        )
    },
}
# The body is read by hand (form or JSON, as the standard allows); documented here for clients.
REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {"schema": _REQUEST_FIELDS},
            "application/json": {"schema": _REQUEST_FIELDS},
            "multipart/form-data": {
                "schema": {
                    **_REQUEST_FIELDS,
                    "properties": {
                        **_REQUEST_FIELDS["properties"],
                        "media": {"type": "string", "format": "binary", "description": "A JPEG or PNG photo"},
                    },
                }
            },
        },
    }
}


Endpoint = Callable[..., Coroutine[Any, Any, Any]]


def both_formats(method: str, path: str, root: str, **route: Any) -> Callable[[Endpoint], Endpoint]:
    """Register ``endpoint`` at ``path.json`` and, answering the same document as XML under ``root``, at
    ``path.xml``."""

    def register(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(f"{path}.json", endpoint, methods=[method], **route)

        @functools.wraps(endpoint)
        async def as_xml(*args: Any, **kwargs: Any) -> Response:
            document = await endpoint(*args, **kwargs)
            return Response(
                georeport.render(document, root),
                status_code=route.get("status_code", 200),
                media_type=georeport.MEDIA_TYPE,
            )

        as_xml.__name__ = f"{endpoint.__name__}_xml"
        router.add_api_route(
            f"{path}.xml",
            as_xml,
            methods=[method],
            **{**route, "summary": f"{route.get('summary', '')} (XML)"},
            response_model=None,
            response_class=Response,
        )
        return endpoint

    return register


def check_jurisdiction(jurisdiction_id: str | None, settings: Settings) -> None:
    if jurisdiction_id and jurisdiction_id != settings.open311_jurisdiction_id:  # empty: as if not given
        raise NotFound(
            f"jurisdiction_id {jurisdiction_id!r} is not served here; this endpoint serves "
            f"{settings.open311_jurisdiction_id!r}."
        )


@both_formats("GET", "/services", "services", summary="The services a 311 client can request: complaints and needs")
async def list_services(settings: SettingsDep, jurisdiction_id: Text = None) -> list[dict[str, Any]]:
    check_jurisdiction(jurisdiction_id, settings)
    return service.list_services()


@both_formats(
    "GET",
    "/services/{service_code}",
    "service_definition",
    summary="A service's definition (its attributes)",
    responses=ERRORS,
)
async def get_service_definition(
    service_code: str, settings: SettingsDep, jurisdiction_id: Text = None
) -> dict[str, Any]:
    check_jurisdiction(jurisdiction_id, settings)
    return service.service_definition(service_code)


@both_formats(
    "POST",
    "/requests",
    "service_requests",
    status_code=201,
    summary="File a service request (form-encoded, JSON, or multipart with a `media` photo); needs a signed-in caller",
    responses={
        **ERRORS,
        413: {"description": "The photo is too large (Open311 error list)"},
        415: {"description": "The photo is not a JPEG or PNG, or its name or type lies (Open311 error list)"},
    },
    openapi_extra=REQUEST_BODY,
)
async def create_request(
    request: Request, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> list[dict[str, Any]]:
    upload: UploadFile | None = None
    if media.is_multipart(request):
        fields, attributes, upload = await media.parse_multipart(request)
    else:
        fields, attributes = service.parse_request_body(await request.body(), request.headers.get("content-type", ""))
    check_jurisdiction(fields.get("jurisdiction_id") or request.query_params.get("jurisdiction_id"), settings)
    documents = Documents.of(request)
    photo = await media.read(documents, fields.get("service_code", ""), upload) if upload is not None else None
    filed = await service.file_request(session, fields, attributes, by=principal, settings=settings)
    if photo is not None:
        await media.attach(session, documents, filed, photo, by=principal)
    return filed


@both_formats(
    "GET",
    "/requests",
    "service_requests",
    summary="Service requests by id, service, dates and status",
    responses=ERRORS,
)
async def list_requests(
    request: Request,
    session: ReadSessionDep,
    write_session: SessionDep,  # the links given are audited
    principal: OptionalPrincipal,
    settings: SettingsDep,
    service_request_id: Text = None,
    service_code: Text = None,
    start_date: Annotated[str | None, Query(max_length=40)] = None,
    end_date: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=10)] = None,
    jurisdiction_id: Text = None,
) -> list[dict[str, Any]]:
    check_jurisdiction(jurisdiction_id, settings)
    found = await service.find_requests(
        session,
        viewer=principal,
        service_request_id=service_request_id,
        service_code=service_code,
        start_date=start_date,
        end_date=end_date,
        status=status,
    )
    return await media.with_media_links(write_session, Documents.of(request), found, principal)


@both_formats(
    "GET",
    "/requests/{service_request_id}",
    "service_requests",
    summary="One service request and its status",
    responses=ERRORS,
)
async def get_request(
    request: Request,
    session: ReadSessionDep,
    write_session: SessionDep,  # the links given are audited
    principal: OptionalPrincipal,
    settings: SettingsDep,
    service_request_id: str,
    jurisdiction_id: Text = None,
) -> list[dict[str, Any]]:
    check_jurisdiction(jurisdiction_id, settings)
    found = await service.get_request(session, service_request_id, viewer=principal)
    return await media.with_media_links(write_session, Documents.of(request), found, principal)
