"""One-time codes: a six-digit code per request, kept only as an HMAC, good for a few minutes, used once,
with a few wrong guesses allowed; sends per phone are limited, and sends and guesses per phone and day
(gateway/lockout); only mainland mobile numbers get one. A verified phone is a resident identity (at sign-in),
or a short-lived proof for the caller who verified it (a new phone)."""

from __future__ import annotations

import hmac
import math
import secrets
import uuid
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.keys import SigningKey
from gateway.config import GatewaySettings
from gateway.lockout import service as lockout
from gateway.residents import repository
from gateway.residents.models import OtpChallenge, ResidentIdentity, phone_index
from gateway.residents.schemas import OtpSent, PhoneProof
from gateway.residents.sms import Sms, SmsFailed, SmsSender
from service_kit import metrics
from service_kit.auth import phone_proof_audience
from service_kit.db import commit_then_raise
from service_kit.errors import DependencyUnavailable, Forbidden, RateLimited, Unauthorized
from service_kit.notify import templates
from service_kit.phones import mobile
from service_kit.protection import PHONE, Purpose, keyring_of
from service_kit.timeutil import utcnow

log = structlog.get_logger("linli.gateway.residents")

CODE_DIGITS = 6
WRONG_CODE = "The code is wrong, used or expired; ask for a new one."


# A code is kept only as a keyed hash of the phone and the code (the index key: a data-key rotation keeps it).
SIGN_IN_CODE = Purpose("sign-in-code")


def _code_hash(session: AsyncSession, phone: str, code: str) -> str:
    return keyring_of(session).blind_index(SIGN_IN_CODE, f"{phone}:{code}")


async def send_code(
    session: AsyncSession,
    raw_phone: str,
    *,
    sender: SmsSender,
    settings: GatewaySettings,
    now: datetime | None = None,
) -> OtpSent:
    phone = mobile(raw_phone)  # before anything is counted or sent: a landline or a number abroad gets nothing
    now = now or utcnow()
    await lockout.check_phone_day(session, phone, sending=True, settings=settings, now=now)
    window_start = now - timedelta(seconds=settings.otp_send_window_seconds)
    sent, oldest = await repository.sends_since(session, phone, window_start)
    if sent >= settings.otp_sends_per_window and oldest is not None:
        wait = math.ceil((oldest - window_start).total_seconds()) or 1
        raise RateLimited(
            f"Too many codes were sent to this number; try again in {wait} s.",
            code="otp_rate_limited",
            retry_after=wait,
        )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    await repository.add_code(
        session,
        OtpChallenge(
            phone_index=phone_index(session, phone),
            code_hash=_code_hash(session, phone, code),
            expires_at=now + timedelta(seconds=settings.otp_ttl_seconds),
            attempts=0,
            created_at=now,
            updated_at=now,
        ),
    )
    minutes = max(1, settings.otp_ttl_seconds // 60)
    message = templates.render("sign_in_code", code=code, minutes=str(minutes))
    try:
        await sender.send(Sms(phone=phone, kind=message.kind, params=message.params, text=message.sms_text))
    except SmsFailed as exc:
        metrics.sms_outcome("gateway", message.kind, exc)
        # The code was not sent: nothing is kept (the challenge rolls back) and the resident may ask again.
        raise DependencyUnavailable(
            "The text message could not be sent; try again in a minute.", code="sms_unavailable", provider_code=exc.code
        ) from None
    metrics.sms_outcome("gateway", message.kind, None)
    return OtpSent(phone=phone, expires_in=settings.otp_ttl_seconds)


async def verify_code(
    session: AsyncSession, raw_phone: str, code: str, *, settings: GatewaySettings, now: datetime | None = None
) -> ResidentIdentity:
    """The resident identity of ``raw_phone`` (created on first sign-in) when ``code`` is its newest code."""
    phone = await consume_code(session, raw_phone, code, settings=settings, now=now)
    identity = await _identity_of(session, phone)
    if not identity.active:
        raise Forbidden("This resident may not sign in.", code="resident_disabled")
    return identity


async def prove_phone(
    session: AsyncSession,
    raw_phone: str,
    code: str,
    *,
    subject: str,
    key: SigningKey,
    settings: GatewaySettings,
    now: datetime | None = None,
) -> PhoneProof:
    """A signed proof that the caller ``subject`` has just verified ``raw_phone`` with its newest ``code``.

    It is no sign-in (no identity is made for the phone) and no access token (its audience is the proofs'):
    the booking service takes it, from this caller only, to change the resident's phone to this one."""
    phone = await consume_code(session, raw_phone, code, settings=settings, now=now)
    now = now or utcnow()
    proof = key.sign(
        {
            "iss": settings.jwt_issuer,
            "aud": phone_proof_audience(settings.jwt_audience),
            "sub": subject,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=settings.phone_proof_ttl_seconds)).timestamp()),
            "jti": str(uuid.uuid4()),
            "phone_number": phone,
            "phone_number_verified": True,
        }
    )
    return PhoneProof(phone=phone, phone_proof=proof, expires_in=settings.phone_proof_ttl_seconds)


async def consume_code(
    session: AsyncSession, raw_phone: str, code: str, *, settings: GatewaySettings, now: datetime | None = None
) -> str:
    """Spend ``code`` when it is the newest code of ``raw_phone``; the phone in E.164.

    A wrong guess is committed before the refusal, so the attempt counts even though the request fails. Beyond
    the phone's guesses of the day, no code is checked (429 ``too_many_codes``, gateway/lockout/service.py)."""
    phone = mobile(raw_phone)
    now = now or utcnow()
    await lockout.check_phone_day(session, phone, sending=False, settings=settings, now=now)
    challenge = await repository.newest_code(session, phone)
    if challenge is None or challenge.consumed_at is not None or challenge.expires_at <= now:
        raise Unauthorized(WRONG_CODE, code="invalid_code")
    if not await repository.count_attempt(session, challenge.id, max_attempts=settings.otp_max_attempts, now=now):
        raise Unauthorized(WRONG_CODE, code="invalid_code")
    if not hmac.compare_digest(_code_hash(session, phone, code), challenge.code_hash):
        await commit_then_raise(session, Unauthorized(WRONG_CODE, code="invalid_code"))  # the attempt stays counted
    if not await repository.consume_code(session, challenge.id, now):
        raise Unauthorized(WRONG_CODE, code="invalid_code")  # another request used it a moment ago
    return phone


async def _identity_of(session: AsyncSession, phone: str) -> ResidentIdentity:
    identity = await repository.identity_of_phone(session, phone)
    if identity is not None:
        return identity
    created = ResidentIdentity(
        phone_sealed=keyring_of(session).seal(PHONE, phone), phone_index=phone_index(session, phone), active=True
    )
    # The same phone may sign in twice at once: then the identity is the one the other request created.
    identity = await repository.add_identity(session, created)
    if identity is created:
        log.info("resident identity created", resident_id=str(identity.id))
    return identity
