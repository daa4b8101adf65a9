from typing import Annotated

from fastapi import APIRouter, Query, Response

from gateway.auth import service as auth_service
from gateway.auth.schemas import TokenResponse
from gateway.deps import AdminPrincipal, SettingsDep, SigningKeyDep, SmsSenderDep
from gateway.ratelimit import SignInLimit
from gateway.residents import phones, service
from gateway.residents.schemas import OtpRequest, OtpSent, OtpVerify, SmsMessage
from service_kit.db import SessionDep
from service_kit.errors import NotFound, error_responses
from service_kit.pagination import Page, PaginationDep

router = APIRouter(prefix="/api/v1/auth/otp", tags=["auth"])


@router.post(
    "",
    response_model=OtpSent,
    status_code=202,
    responses=error_responses(422, 429),
    summary="Send a one-time sign-in code to a resident's phone",
)
async def send_otp(
    _limit: SignInLimit, body: OtpRequest, session: SessionDep, sender: SmsSenderDep, settings: SettingsDep
) -> OtpSent:
    return await service.send_code(session, body.phone, sender=sender, settings=settings)


@router.post(
    "/verify",
    response_model=TokenResponse,
    responses=error_responses(401, 403, 422, 429),
    summary="Sign in as a resident with the phone and the code it received",
)
async def verify_otp(
    _limit: SignInLimit,
    body: OtpVerify,
    session: SessionDep,
    key: SigningKeyDep,
    settings: SettingsDep,
    response: Response,
) -> TokenResponse:
    identity = await service.verify_code(session, body.phone, body.code, settings=settings)
    response.headers["Cache-Control"] = "no-store"
    return await auth_service.issue_tokens(session, identity, key=key, settings=settings)


@router.get(
    "/messages",
    response_model=Page[SmsMessage],
    responses=error_responses(401, 403, 404, 422),
    summary="Messages the fake SMS sender recorded, newest first (admin; not in production)",
)
async def list_sent_messages(
    _admin: AdminPrincipal,
    sender: SmsSenderDep,
    settings: SettingsDep,
    page: PaginationDep,
    phone: Annotated[str | None, Query(min_length=3, max_length=32)] = None,
) -> Page[SmsMessage]:
    if settings.environment == "production":
        raise NotFound("Linli has no endpoint at this path.")
    messages = sender.sent_to(phones.normalize(phone)) if phone else list(sender.messages)
    messages.reverse()
    chosen = messages[page.offset : page.offset + page.limit]
    return Page(
        items=[SmsMessage.model_validate(m) for m in chosen], total=len(messages), limit=page.limit, offset=page.offset
    )
