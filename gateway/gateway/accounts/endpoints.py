import uuid

from gateway.accounts import service
from gateway.accounts.schemas import Account, AccountCreate
from gateway.deps import AdminPrincipal
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/accounts", tags=["accounts"])


@router.post(
    "",
    response_model=Account,
    status_code=201,
    responses=error_responses(401, 403, 409, 422),
    summary="Create a staff account (admin)",
)
async def create_account(body: AccountCreate, session: SessionDep, _admin: AdminPrincipal) -> Account:
    return Account.model_validate(await service.create(session, body))


@router.get(
    "/{account_id}",
    response_model=Account,
    responses=error_responses(401, 403, 404, 422),
    summary="One staff account (admin)",
)
async def get_account(account_id: uuid.UUID, session: SessionDep, _admin: AdminPrincipal) -> Account:
    return Account.model_validate(await service.get(session, account_id))
