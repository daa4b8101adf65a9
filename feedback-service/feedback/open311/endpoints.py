"""The Open311 GeoReport v2 routes, under ``/open311/v2``.

An exception to the house rule: everywhere else Linli answers errors as RFC 9457 problem+json, but GeoReport
v2 clients expect the standard's error list, ``[{"code": 400, "description": "..."}]`` with the HTTP status
alike. ``Open311Route`` renders every error of these routes (ours, request validation, HTTP errors) that way;
a 422 of ours becomes the standard's 400.
"""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from feedback.config import SettingsDep
from feedback.open311 import service
from service_kit.auth import CurrentPrincipal, OptionalPrincipal
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.errors import LinliError
from service_kit.responses import StandardDocumentResponse


def open311_error(status: int, description: str) -> JSONResponse:
    status = 400 if status == 422 else status
    return JSONResponse([{"code": status, "description": description}], status_code=status)


class Open311Route(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def open311_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LinliError as exc:
                return open311_error(exc.status, exc.detail or exc.title)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
                name = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
                return open311_error(400, f"{name}: {first.get('msg', 'invalid')}")
            except StarletteHTTPException as exc:
                return open311_error(exc.status_code, str(exc.detail))

        return open311_handler


# GeoReport documents keep their W3C date-times in Beijing time (service_kit.responses.StandardDocumentResponse).
router = APIRouter(
    prefix="/open311/v2", tags=["open311"], route_class=Open311Route, default_response_class=StandardDocumentResponse
)

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": "Open311 error list: [{code, description}]"} for status in (400, 401, 403, 404)
}

Text = Annotated[str | None, Query(max_length=4000)]

_REQUEST_FIELDS = {
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
        },
    }
}


@router.get("/services.json", summary="The services a 311 client can request: complaints and needs")
async def list_services(jurisdiction_id: Text = None) -> list[dict[str, Any]]:
    return service.list_services()


@router.get("/services/{service_code}.json", summary="A service's definition (its attributes)", responses=ERRORS)
async def get_service_definition(service_code: str, jurisdiction_id: Text = None) -> dict[str, Any]:
    return service.service_definition(service_code)


@router.post(
    "/requests.json",
    status_code=201,
    summary="File a service request (form-encoded or JSON); needs a signed-in caller",
    responses=ERRORS,
    openapi_extra=REQUEST_BODY,
)
async def create_request(
    request: Request, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> list[dict[str, Any]]:
    fields, attributes = service.parse_request_body(await request.body(), request.headers.get("content-type", ""))
    return await service.file_request(session, fields, attributes, by=principal, settings=settings)


@router.get("/requests.json", summary="Service requests by id, service, dates and status", responses=ERRORS)
async def list_requests(
    session: ReadSessionDep,
    principal: OptionalPrincipal,
    service_request_id: Text = None,
    service_code: Text = None,
    start_date: Annotated[str | None, Query(max_length=40)] = None,
    end_date: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=10)] = None,
    jurisdiction_id: Text = None,
) -> list[dict[str, Any]]:
    return await service.find_requests(
        session,
        viewer=principal,
        service_request_id=service_request_id,
        service_code=service_code,
        start_date=start_date,
        end_date=end_date,
        status=status,
    )


@router.get("/requests/{service_request_id}.json", summary="One service request and its status", responses=ERRORS)
async def get_request(
    session: ReadSessionDep, principal: OptionalPrincipal, service_request_id: str, jurisdiction_id: Text = None
) -> list[dict[str, Any]]:
    return await service.get_request(session, service_request_id, viewer=principal)
