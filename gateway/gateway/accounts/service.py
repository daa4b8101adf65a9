"""The rules of staff accounts: unique usernames, argon2id hashes, one answer for every failed sign-in."""

import uuid
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts import repository
from gateway.accounts.models import Account
from gateway.accounts.passwords import hash_password, spend_verification_time, verify_password
from gateway.accounts.schemas import AccountCreate
from gateway.config import GatewaySettings
from gateway.lockout import service as lockout
from gateway.residents.sms import SmsSender
from service_kit.db import commit_then_raise
from service_kit.errors import Conflict, NotFound, Unauthorized
from service_kit.timeutil import utcnow

WRONG_CREDENTIALS = "The username or password is wrong."


async def create(session: AsyncSession, data: AccountCreate, *, password_hash: str | None = None) -> Account:
    """``password_hash``: ``data.password``'s, computed already (the CLI hashes several accounts side by side)."""
    if await repository.get_by_username(session, data.username) is not None:
        raise Conflict(f"The username {data.username!r} is taken.", code="username_taken")
    account = Account(
        username=data.username,
        password_hash=password_hash or await hash_password(data.password),
        roles=[str(role) for role in data.roles],
        name=data.name,
        provider_id=data.provider_id,
        resident_id=data.resident_id,
        street_code=data.street_code,
        active=True,
    )
    try:
        return await repository.add(session, account)
    except IntegrityError as exc:  # another request took the username meanwhile
        raise Conflict(f"The username {data.username!r} is taken.", code="username_taken") from exc


async def create_or_update(
    session: AsyncSession, data: AccountCreate, *, password_hash: str | None = None
) -> tuple[Account, bool]:
    """Bootstrap (the CLI): create the account, or reset an existing one to exactly ``data``, active.
    Returns the account and whether it was created. ``password_hash`` as for ``create``."""
    account = await repository.get_by_username(session, data.username)
    if account is None:
        return await create(session, data, password_hash=password_hash), True
    account.password_hash = password_hash or await hash_password(data.password)
    account.roles = [str(role) for role in data.roles]
    account.name = data.name
    account.provider_id = data.provider_id
    account.resident_id = data.resident_id
    account.street_code = data.street_code
    account.active = True
    await session.flush()
    return account, False


async def get(session: AsyncSession, account_id: uuid.UUID) -> Account:
    account = await repository.get(session, account_id)
    if account is None:
        raise NotFound("No such account.", code="account_not_found")
    return account


async def authenticate(
    session: AsyncSession,
    username: str,
    password: str,
    *,
    settings: GatewaySettings,
    sender: SmsSender,
    now: datetime | None = None,
) -> Account:
    """The active account with this username and password; any failure gives the same answer. A locked
    account, or one that must still wait after its last failures, is refused before its password is checked;
    a wrong password is counted (committed before the refusal) towards its lockout (gateway/lockout/service.py)."""
    now = now or utcnow()
    account = await repository.get_by_username(session, username.strip().lower())
    if account is None:
        await spend_verification_time(password)
        raise Unauthorized(WRONG_CREDENTIALS, code="invalid_credentials")
    await lockout.check_account(session, account, settings=settings, now=now)
    valid, updated_hash = await verify_password(password, account.password_hash)
    if not valid:
        await lockout.record_failure(session, account, settings=settings, sender=sender, now=now)
        await commit_then_raise(session, Unauthorized(WRONG_CREDENTIALS, code="invalid_credentials"))
    if not account.active:
        raise Unauthorized(WRONG_CREDENTIALS, code="invalid_credentials")
    await lockout.record_success(session, account)
    if updated_hash is not None:
        account.password_hash = updated_hash
    return account
