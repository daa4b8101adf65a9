"""Failed sign-ins per target, shared by every replica (the gateway's database): the policy.

**Staff password sign-in** (``POST /api/v1/auth/token``), per account, whatever address the guesses come from:

- Failures are counted in a window (``LINLI_SIGN_IN_FAILURE_WINDOW_SECONDS``, 15 min) that starts at the first
  failure; a failure after the window starts a new count.
- From the ``LINLI_SIGN_IN_DELAY_AFTER_FAILURES``-th failure (3) on, the next attempt must wait 1 s, then 2, 4, 8…
  up to ``LINLI_SIGN_IN_MAX_DELAY_SECONDS`` (60 s) after the last failure: an attempt sooner is 429
  ``sign_in_delayed`` with ``Retry-After``, its password is not even checked and it counts as nothing.
- At ``LINLI_SIGN_IN_LOCKOUT_FAILURES`` (10) failures in the window the account is locked for
  ``LINLI_SIGN_IN_LOCKOUT_SECONDS`` (15 min): every attempt, the right password included, is 429 ``account_locked``
  with ``Retry-After`` and a message a person understands. The owner is told by SMS when the account has a phone
  (its resident identity's), at most once in ``NOTIFY_AT_MOST_EVERY``, so an attacker cannot flood their phone.
- A lockout ends by itself and is never longer than that: it does not grow with repeated lockouts, so an attacker
  who sprays a street's operators keeps none of them out for more than one lockout period after they stop, each
  lockout costs the attacker a full round of delayed guesses, and an admin (an operator, for an account that
  holds only the resident role) ends it at once (``DELETE /api/v1/accounts/{id}/lockout``, logged with who did it).
- Only the account guessed at is counted: spraying many accounts locks none that was not itself guessed at
  ``LINLI_SIGN_IN_LOCKOUT_FAILURES`` times, and nobody else's sign-in is slowed. A right password ends the count.
- Unknown usernames are not counted (no row per made-up name); the edge's per-target rate limit still applies to
  them. Being told ``account_locked`` does reveal that a username exists — to someone who already spent the
  lockout's worth of guesses on it, and the owner is told.

**Residents' one-time codes**, per phone (on top of the 15-minute sends limit and the attempts per code): at most
``LINLI_OTP_SENDS_PER_DAY`` codes sent and ``LINLI_OTP_GUESSES_PER_DAY`` guesses in any 24 hours, then 429
``too_many_codes``. The count is of the phone's codes (``otp_challenge``) since 24 hours ago or since an operator
lifted it for the phone (``POST /api/v1/auth/otp/unlock``), whichever is later. A phone is named here only by its
blind index (``gateway.residents.models.phone_index``).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts.models import Account
from gateway.config import GatewaySettings
from gateway.lockout import repository
from gateway.lockout.models import SignInLockout
from gateway.lockout.schemas import AccountLockout
from gateway.residents import repository as residents
from gateway.residents.models import phone_index
from gateway.residents.sms import Sms, SmsFailed, SmsSender
from service_kit import metrics
from service_kit.auth import Role
from service_kit.errors import LinliError, RateLimited
from service_kit.notify import templates

log = structlog.get_logger("linli.gateway.lockout")

ACCOUNT, PHONE = "account", "phone"
NOTIFY_AT_MOST_EVERY = timedelta(hours=6)
DAY = timedelta(hours=24)


class AccountLocked(LinliError):
    status, code, title = 429, "account_locked", "The account is locked for a while"


def _locked(wait: int) -> AccountLocked:
    minutes = max(1, math.ceil(wait / 60))
    return AccountLocked(
        f"Too many wrong passwords: this account is locked for {minutes} more minute(s). Try again later, or ask "
        "an administrator to unlock it.",
        retry_after=wait,
        message_zh=f"密码错误次数太多，账号已临时锁定，请 {minutes} 分钟后再试，或请管理员解锁。",
    )


def _delayed(wait: int) -> RateLimited:
    return RateLimited(
        f"Several wrong passwords: wait {wait} s before trying again.",
        code="sign_in_delayed",
        retry_after=wait,
        message_zh=f"密码错了几次，请等 {wait} 秒再试。",
    )


def too_many_codes(wait: int) -> RateLimited:
    hours = max(1, math.ceil(wait / 3600))
    return RateLimited(
        f"Too many codes for this number today; try again in about {hours} hour(s), or ask the community "
        "service hotline for help.",
        code="too_many_codes",
        retry_after=wait,
        message_zh=f"这个号码今天的验证码次数已用完，请约 {hours} 小时后再试，或打社区服务热线求助。",
    )


def _wait(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


def phone_subject(session: AsyncSession, phone: str) -> str:
    """A phone's name here: the blind index of the E.164 number, as ``otp_challenge`` and ``resident_identity``
    hold it (never the number itself)."""
    return phone_index(session, phone)


def _next_attempt_at(row: SignInLockout, settings: GatewaySettings) -> datetime | None:
    if row.last_failure_at is None or row.failures < settings.sign_in_delay_after_failures:
        return None
    steps = row.failures - settings.sign_in_delay_after_failures
    seconds = settings.sign_in_max_delay_seconds if steps >= 16 else min(2**steps, settings.sign_in_max_delay_seconds)
    return row.last_failure_at + timedelta(seconds=seconds)


async def check_account(session: AsyncSession, account: Account, *, settings: GatewaySettings, now: datetime) -> None:
    """Refuse an attempt at ``account`` while it is locked or must still wait after its last failure."""
    row = await repository.get(session, ACCOUNT, str(account.id))
    if row is None:
        return
    if row.locked_until is not None and row.locked_until > now:
        raise _locked(_wait(row.locked_until, now))
    if row.window_started_at is None or row.window_started_at + _window(settings) <= now:
        return
    next_at = _next_attempt_at(row, settings)
    if next_at is not None and next_at > now:
        raise _delayed(_wait(next_at, now))


def _window(settings: GatewaySettings) -> timedelta:
    return timedelta(seconds=settings.sign_in_failure_window_seconds)


async def record_failure(
    session: AsyncSession, account: Account, *, settings: GatewaySettings, sender: SmsSender, now: datetime
) -> None:
    """Count a wrong password for ``account``; lock it at the threshold and tell its owner. The caller commits
    (the failure must count although the request fails)."""
    row = await repository.lock(session, ACCOUNT, str(account.id), create=True)
    assert row is not None
    if row.window_started_at is None or row.window_started_at + _window(settings) <= now:
        row.failures, row.window_started_at = 0, now
    row.failures += 1
    row.last_failure_at = now
    row.updated_at = now
    if row.failures < settings.sign_in_lockout_failures:
        await session.flush()
        return
    row.locked_until = now + timedelta(seconds=settings.sign_in_lockout_seconds)
    row.lockouts += 1
    row.failures, row.window_started_at = 0, None  # after the lockout, a fresh count
    notify = row.notified_at is None or row.notified_at + NOTIFY_AT_MOST_EVERY <= now
    if notify:
        row.notified_at = now
    await session.flush()
    log.warning("account locked", account_id=str(account.id), until=row.locked_until.isoformat(), lockouts=row.lockouts)
    if notify:
        await _tell_owner(session, account, settings=settings, sender=sender)


async def _tell_owner(session: AsyncSession, account: Account, *, settings: GatewaySettings, sender: SmsSender) -> None:
    """An SMS to the account's phone: the phone of the resident identity linked to the account's resident record."""
    if account.resident_id is None:
        return
    identity = await residents.identity_of_record(session, account.resident_id)
    if identity is None:
        return
    minutes = str(max(1, settings.sign_in_lockout_seconds // 60))
    message = templates.render("account_locked", minutes=minutes)
    try:
        await sender.send(Sms(phone=identity.phone, kind=message.kind, params=message.params, text=message.sms_text))
    except SmsFailed as exc:  # the lockout stands; the owner is not told this time
        metrics.sms_outcome("gateway", message.kind, exc)
        log.warning("account lockout not told by SMS", account_id=str(account.id), error=exc.code)
    else:
        metrics.sms_outcome("gateway", message.kind, None)


async def record_success(session: AsyncSession, account: Account) -> None:
    """A right password ends the count of failures."""
    row = await repository.lock(session, ACCOUNT, str(account.id), create=False)
    if row is not None and (row.failures or row.window_started_at is not None):
        row.failures, row.window_started_at = 0, None
        await session.flush()


async def unlock(session: AsyncSession, kind: str, subject: str, *, by: str, now: datetime) -> None:
    """Lift ``subject``'s lockout and its counts now (an account's failures, a phone's codes of the day)."""
    row = await repository.lock(session, kind, subject, create=kind == PHONE)
    if row is None:
        return
    row.failures, row.window_started_at, row.locked_until = 0, None, None
    row.cleared_at, row.unlocked_by, row.updated_at = now, by, now
    await session.flush()
    log.warning("sign-in lockout lifted", kind=kind, subject=subject, by=by)


async def account_state(
    session: AsyncSession, account: Account, *, settings: GatewaySettings, now: datetime
) -> AccountLockout:
    """What the gateway counts of ``account``'s failed passwords, as of ``now`` (an old window counts nothing)."""
    row = await repository.get(session, ACCOUNT, str(account.id))
    if row is None:
        return AccountLockout(
            locked_until=None, failures=0, last_failure_at=None, lockouts=0, unlocked_at=None, unlocked_by=None
        )
    current = row.window_started_at is not None and row.window_started_at + _window(settings) > now
    return AccountLockout(
        locked_until=row.locked_until if row.locked_until is not None and row.locked_until > now else None,
        failures=row.failures if current else 0,
        last_failure_at=row.last_failure_at,
        lockouts=row.lockouts,
        unlocked_at=row.cleared_at,
        unlocked_by=row.unlocked_by,
    )


def may_unlock_account(roles: frozenset[str] | set[str], account: Account) -> bool:
    """An admin unlocks any account; an operator a resident's (an account holding only the resident role)."""
    if Role.admin in roles:
        return True
    return Role.operator in roles and set(account.roles) <= {Role.resident.value}


async def check_phone_day(
    session: AsyncSession, phone: str, *, sending: bool, settings: GatewaySettings, now: datetime
) -> None:
    """Refuse a code sent to (``sending``) or guessed for ``phone`` beyond its budget of the last 24 hours."""
    since = now - DAY
    row = await repository.get(session, PHONE, phone_subject(session, phone))
    if row is not None and row.cleared_at is not None and row.cleared_at > since:
        since = row.cleared_at
    sent, guessed, oldest = await residents.sends_and_guesses_since(session, phone, since)
    spent = sent >= settings.otp_sends_per_day if sending else guessed >= settings.otp_guesses_per_day
    if spent:
        # The budget comes back as the day's first codes leave the 24 hours.
        raise too_many_codes(_wait(oldest + DAY, now) if oldest is not None else int(DAY.total_seconds()))
