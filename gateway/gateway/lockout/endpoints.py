"""Ending a lockout by hand: an admin for any account, an operator for a resident's account or a resident's phone
(a resident who calls the hotline because no code comes any more). Each unlock is logged with who did it."""

import uuid
from typing import Annotated

from fastapi import Depends, Response
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts import service as accounts_service
from gateway.accounts.models import Account
from gateway.clock import Now
from gateway.deps import SettingsDep
from gateway.lockout import service
from gateway.lockout.schemas import AccountLockout, PhoneUnlock
from service_kit import phones
from service_kit.auth import Principal, Role, require_roles
from service_kit.db import SessionDep
from service_kit.errors import Forbidden, error_responses
from service_kit.routing import service_router

router = service_router(tags=["auth"])

OperatorPrincipal = Annotated[Principal, Depends(require_roles(Role.operator))]


@router.get(
    "/api/v1/accounts/{account_id}/lockout",
    response_model=AccountLockout,
    responses=error_responses(401, 403, 404, 422),
    summary="An account's failed passwords and lockout (admin; operator: a resident's)",
)
async def get_account_lockout(
    account_id: uuid.UUID, session: SessionDep, principal: OperatorPrincipal, settings: SettingsDep, now: Now
) -> AccountLockout:
    account = await _unlockable(session, account_id, principal)
    return await service.account_state(session, account, settings=settings, now=now)


async def _unlockable(session: AsyncSession, account_id: uuid.UUID, principal: Principal) -> Account:
    account = await accounts_service.get(session, account_id)
    if not service.may_unlock_account(principal.roles, account):
        raise Forbidden("Only an admin unlocks a staff account.", code="role_forbidden")
    return account


@router.delete(
    "/api/v1/accounts/{account_id}/lockout",
    status_code=204,
    responses=error_responses(401, 403, 404, 422),
    summary="End an account's sign-in lockout and forget its failed passwords (admin; operator: a resident's)",
)
async def unlock_account(
    account_id: uuid.UUID, session: SessionDep, principal: OperatorPrincipal, now: Now
) -> Response:
    account = await _unlockable(session, account_id, principal)
    await service.unlock(session, service.ACCOUNT, str(account.id), by=principal.subject, now=now)
    return Response(status_code=204)


@router.post(
    "/api/v1/auth/otp/unlock",
    status_code=204,
    responses=error_responses(401, 403, 422),
    summary="Give a phone its sign-in codes of the day back (operator, admin)",
    description="The phone's codes sent and guessed so far today count no more (`too_many_codes` ends).",
)
async def unlock_phone(body: PhoneUnlock, session: SessionDep, principal: OperatorPrincipal, now: Now) -> Response:
    phone = phones.mobile(body.phone)
    await service.unlock(session, service.PHONE, service.phone_subject(session, phone), by=principal.subject, now=now)
    return Response(status_code=204)
