from fastapi import Request, Response

from gateway.auth import service as auth_service
from gateway.auth.schemas import TokenResponse
from gateway.clock import Now
from gateway.deps import (
    ResidentLinkerDep,
    ResidentPrincipal,
    SettingsDep,
    SigningKeyDep,
    SmsSenderDep,
)
from gateway.ratelimit import CodeSignInLimit, SignInKind, limit_target
from gateway.residents import examples, service
from gateway.residents.schemas import OtpRequest, OtpSent, OtpVerify, PhoneProof, PhoneProofRequest
from service_kit import phones
from service_kit.db import SessionDep
from service_kit.edge import request_id
from service_kit.errors import error_responses
from service_kit.notify.outbox import fake_outbox_router
from service_kit.routing import service_router
from service_kit.settings import running_settings

router = service_router(prefix="/api/v1/auth/otp", tags=["auth"])


@router.post(
    "",
    response_model=OtpSent,
    status_code=202,
    responses=error_responses(422, 429, 503),
    summary="Send a one-time sign-in code to a resident's phone",
    description=(
        "Only to a mobile number of mainland China: a landline, a number abroad or anything else is 422 "
        "`not_a_mobile_number` (field `phone`), and nothing is sent. When the SMS provider refuses or cannot be "
        "reached: 503 `sms_unavailable`, no code is kept, and the resident may ask again. A phone gets a few codes "
        "in 15 minutes (429 `otp_rate_limited`) and a few more in a day (429 `too_many_codes`, `Retry-After`; an "
        "operator lifts it with `POST /api/v1/auth/otp/unlock`)."
    ),
    operation_id="sendSignInCode",
    openapi_extra=examples.SEND_CODE,
)
async def send_otp(
    _limit: CodeSignInLimit,
    request: Request,
    body: OtpRequest,
    session: SessionDep,
    sender: SmsSenderDep,
    settings: SettingsDep,
    now: Now,
) -> OtpSent:
    await limit_target(request, SignInKind.code, phones.mobile(body.phone))
    return await service.send_code(session, body.phone, sender=sender, settings=settings, now=now)


@router.post(
    "/verify",
    response_model=TokenResponse,
    responses=error_responses(401, 403, 422, 429, 503),
    summary="Sign in as a resident with the phone and the code it received",
    description=(
        "The tokens' `resident_id` is the booking service's resident record of this phone (one an operator "
        "registered, say), asked of booking at each sign-in and refresh; while there is none, it is the sign-in's "
        "own id, under which `POST /api/v1/residents` registers the resident. The tokens also carry the phone "
        "(`phone_number`, `phone_number_verified`). When booking cannot answer: 503 `resident_lookup_unavailable` "
        "with `Retry-After`, and the code is not spent. Only a mainland mobile number signs in (422 "
        "`not_a_mobile_number`). Beyond the phone's guesses of the day: 429 `too_many_codes` with `Retry-After`."
    ),
    operation_id="signInWithCode",
    openapi_extra=examples.SIGN_IN,
)
async def verify_otp(
    _limit: CodeSignInLimit,
    request: Request,
    body: OtpVerify,
    session: SessionDep,
    key: SigningKeyDep,
    settings: SettingsDep,
    linker: ResidentLinkerDep,
    now: Now,
    response: Response,
) -> TokenResponse:
    await limit_target(request, SignInKind.code, phones.mobile(body.phone))
    identity = await service.verify_code(session, body.phone, body.code, settings=settings, now=now)
    if body.consent_version is not None:
        identity.consent_version = body.consent_version
    await linker.link(session, identity, request_id=request_id())
    response.headers["Cache-Control"] = "no-store"
    return await auth_service.issue_tokens(session, identity, key=key, settings=settings)


@router.post(
    "/proof",
    response_model=PhoneProof,
    responses=error_responses(401, 403, 422, 429),
    summary="A signed-in resident proves a new phone with the code it received (to change their phone to it)",
    description=(
        "Ask for a code with `POST /api/v1/auth/otp` for the new phone, then send it here with your resident "
        "token: the answer's `phone_proof` goes with `PATCH /api/v1/residents/{id}` `{phone, phone_proof}`. "
        "The proof is yours only, for this phone only, for `expires_in` seconds; it signs nobody in."
    ),
)
async def prove_phone(
    _limit: CodeSignInLimit,
    request: Request,
    body: PhoneProofRequest,
    principal: ResidentPrincipal,
    session: SessionDep,
    key: SigningKeyDep,
    settings: SettingsDep,
    now: Now,
    response: Response,
) -> PhoneProof:
    await limit_target(request, SignInKind.code, phones.mobile(body.phone))
    response.headers["Cache-Control"] = "no-store"
    return await service.prove_phone(
        session, body.phone, body.code, subject=principal.subject, key=key, settings=settings, now=now
    )


# The fake sender's record of the codes it "sent" (admin, not in production): the kit's one such view.
router.include_router(
    fake_outbox_router(
        "/messages",
        sender_of=lambda request: request.app.state.sms_sender,
        is_production=lambda request: running_settings(request).environment == "production",
        normalize_phone=phones.normalize,
        tags=["auth"],
        operation_id="listSignInSms",
        show_full_phone=True,
    )
)
