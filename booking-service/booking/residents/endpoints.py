import uuid
from typing import Annotated

from fastapi import Depends, Query, Request, Response

from booking.audit import schemas as audit_schemas
from booking.audit import service as audit
from booking.clock import Now
from booking.communities import schemas as communities_schemas
from booking.communities import service as communities_service
from booking.deps import Caller, KeyringDep, SettingsDep, TokenVerifierDep
from booking.residents import helpers, merge, privacy, service
from booking.residents import schemas as s
from service_kit.auth import GatewayScope, Principal, Role, require_gateway, require_roles
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.errors import NotFound, ValidationFailed, error_responses
from service_kit.idempotency import about_resident
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/residents", tags=["residents"])
# Called by the gateway only; the gateway's route table has no /internal path, so nobody reaches it through it.
internal_router = service_router(prefix="/internal/v1", tags=["internal"])

Operator = Annotated[Principal, Depends(require_roles(Role.operator))]
Gateway = Annotated[Principal, Depends(require_gateway(GatewayScope.resident_links))]
OperatorOrResident = Annotated[Principal, Depends(require_roles(Role.operator, Role.resident))]

# A helper (a relative's resident account the resident authorised) names the resident they act for the way every
# request names a resident: ``resident_id`` in the body (a booking, a complaint, a need) or the query (a list of
# bookings), with their own token. Booking and feedback admit it only while the grant is active; otherwise the
# answer is the one for a resident that does not exist (404).
HELPER_NOTE = (
    "A helper acts with their own token and names the resident as any request does: `resident_id` in the body "
    "(`POST /api/v1/bookings`, `/api/v1/complaints`, `/api/v1/needs`) or the query (`GET /api/v1/bookings`). It is "
    "admitted only while the grant is active (404 `resident_not_found` otherwise); every act is in the resident's "
    "acting-for trail with `helper_resident_id`, and booking events carry `helper_resident_id`."
)


@router.post(
    "",
    status_code=201,
    response_model=s.Resident,
    summary="Register a resident: an operator registers a caller, or a resident registers themself",
    description=(
        "A resident whose token has no resident yet registers themself, with the phone they signed in with "
        "(the token's verified `phone_number`; another is 403 `phone_not_verified`) and consent given in the app "
        "(`channel` `app`; else 422 `consent_channel_not_app`). The record takes the token's `resident_id` and is "
        "linked to its `sub`. When the phone's record exists already (an operator registered it): 409 "
        "`already_registered`, and signing in again names it. Eligibility tags are recorded by operators only."
    ),
    responses=error_responses(401, 403, 409, 422),
)
async def register_resident(
    data: s.ResidentCreate, request: Request, session: SessionDep, principal: OperatorOrResident, keyring: KeyringDep
) -> s.Resident:
    resident = await service.register(session, data, by=principal, keyring=keyring)
    # A response stored under an Idempotency-Key is about the new record: erasing it deletes that response too.
    about_resident(request.state, resident.id)
    return service.to_schema(resident, service.as_registered(principal, resident))


@router.get(
    "",
    response_model=Page[s.Resident],
    summary="Find residents (operator): by exact phone, by the last 4+ digits of the phone, by ID number, or by `q`",
    description=(
        "`q` is the console's one search box: a whole phone number, its last 4 to 10 digits, an 18-character ID "
        "number, a name's pinyin or its initials (`zgl` finds 张桂兰), the start of a name, or part of an address. "
        "Erased and merged records are not found by name or address."
    ),
    responses=error_responses(401, 403, 422),
)
async def find_residents(
    session: SessionDep,
    principal: Operator,
    keyring: KeyringDep,
    page: PaginationDep,
    phone: Annotated[str | None, Query(min_length=3, max_length=32)] = None,
    phone_suffix: Annotated[
        str | None, Query(pattern=r"^\d{4,11}$", description="The last digits of the phone (4 to 11).")
    ] = None,
    id_card_number: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=50, pattern=r"\S")] = None,
) -> Page[s.Resident]:
    if sum(v is not None for v in (phone, phone_suffix, id_card_number, q)) != 1:
        raise ValidationFailed("Give exactly one of phone, phone_suffix, id_card_number, q.", code="one_search_key")
    if q is not None:
        residents, total = await service.search(
            session, q, by=principal, keyring=keyring, limit=page.limit, offset=page.offset
        )
    elif phone_suffix is not None:
        residents, total = await service.find_by_phone_suffix(
            session, phone_suffix, by=principal, limit=page.limit, offset=page.offset
        )
    else:
        if phone is not None:
            residents = await service.find_by_phone(session, phone, by=principal)
        else:
            assert id_card_number is not None
            residents = await service.find_by_id_card(session, id_card_number, by=principal, keyring=keyring)
        total = len(residents)
        residents = residents[page.offset : page.offset + page.limit]
    items = [service.to_schema(r, principal) for r in residents]
    return page.of(items, total)


@router.get(
    "/communities",
    response_model=Page[communities_schemas.Community],
    summary="The communities a resident may be registered in, as booking knows them from the registry",
    description=(
        "The registry's gazetteer as announced by `community.upserted` (at the registry's start and on every "
        "change). A registration or correction naming any other `community_code` is 422 `unknown_community`."
    ),
    responses=error_responses(401, 403, 422),
)
async def known_communities(
    session: SessionDep, _operator: Operator, page: PaginationDep
) -> Page[communities_schemas.Community]:
    items, total = await communities_service.known(session, limit=page.limit, offset=page.offset)
    return page.of([communities_schemas.Community.model_validate(c, from_attributes=True) for c in items], total)


@router.get(
    "/{resident_id}",
    response_model=s.Resident,
    summary="A resident (operator; a resident only themself)",
    responses=error_responses(401, 404, 422),
)
async def get_resident(resident_id: uuid.UUID, session: SessionDep, principal: Caller) -> s.Resident:
    resident = await service.view(session, resident_id, by=principal)
    return service.to_schema(resident, principal)


@router.patch(
    "/{resident_id}",
    response_model=s.Resident,
    summary="Correct a resident's data (the resident themself, or an operator; eligibility tags operator only)",
    description=(
        "A resident changes their phone only to one they have just verified: `{phone, phone_proof}` with the "
        "gateway's proof (`POST /api/v1/auth/otp/proof`); without it 403 `phone_not_verified`, with a bad, "
        "expired or someone else's proof 403 `phone_proof_invalid`. A new phone unlinks the app account: the "
        "resident signs in again with it (tokens of the old phone are 401 `resident_token_outdated`)."
    ),
    responses=error_responses(401, 403, 404, 409, 422),
)
async def correct_resident(
    resident_id: uuid.UUID,
    data: s.ResidentUpdate,
    session: SessionDep,
    principal: Caller,
    keyring: KeyringDep,
    verifier: TokenVerifierDep,
) -> s.Resident:
    resident = await service.correct(session, resident_id, data, by=principal, keyring=keyring, verifier=verifier)
    return service.to_schema(resident, principal)


@router.get(
    "/{resident_id}/export",
    response_model=privacy.ResidentExport,
    summary="Everything held about a resident, bookings included (the resident themself, or an operator)",
    responses=error_responses(401, 404, 422),
)
async def export_resident(
    resident_id: uuid.UUID, session: SessionDep, principal: Caller, keyring: KeyringDep
) -> privacy.ResidentExport:
    return await privacy.export(session, resident_id, by=principal, keyring=keyring)


@router.delete(
    "/{resident_id}",
    status_code=204,
    summary="Delete a resident's personal data; their past bookings keep an anonymized reference",
    responses=error_responses(401, 404, 409, 422),
)
async def erase_resident(resident_id: uuid.UUID, session: SessionDep, principal: Caller) -> Response:
    await privacy.erase(session, resident_id, by=principal)
    return Response(status_code=204)


@router.get(
    "/{resident_id}/acting-for",
    response_model=Page[audit_schemas.ActingFor],
    summary="What operators did on the resident's behalf (the resident themself, or an operator)",
    responses=error_responses(401, 404, 422),
)
async def acting_for_resident(
    resident_id: uuid.UUID, session: SessionDep, principal: Caller, page: PaginationDep
) -> Page[audit_schemas.ActingFor]:
    resident = await service.get_visible(session, resident_id, by=principal)
    items, total = await audit.for_resident(session, resident.id, limit=page.limit, offset=page.offset)
    return page.of(items, total)


@router.post(
    "/{resident_id}/helpers",
    status_code=201,
    response_model=s.HelperGrant,
    summary="Authorise a relative's own resident account to act for the resident (the resident, or an operator)",
    description=(
        "The relative is named by their phone, which must be the phone of a resident account that has signed in "
        "(422 `helper_not_signed_in` on `helper_phone`). An operator records how the resident consented "
        "(`consent_channel`; 422 `consent_required` without it). A pair already active is 409 "
        "`helper_already_granted`. Emits `resident.helper_granted`. " + HELPER_NOTE
    ),
    responses=error_responses(401, 403, 404, 409, 422),
)
async def grant_helper(
    resident_id: uuid.UUID, data: s.HelperGrantCreate, session: SessionDep, principal: Caller
) -> s.HelperGrant:
    return await helpers.grant(session, resident_id, data, by=principal)


@router.get(
    "/{resident_id}/helpers",
    response_model=list[s.HelperGrant],
    summary="Who acts for the resident now (the resident themself, or an operator)",
    responses=error_responses(401, 404, 422),
)
async def list_helpers(resident_id: uuid.UUID, session: SessionDep, principal: Caller) -> list[s.HelperGrant]:
    return await helpers.helpers_of(session, resident_id, by=principal)


@router.delete(
    "/{resident_id}/helpers/{grant_id}",
    response_model=s.HelperGrant,
    summary="End a helper's authorisation: the resident, an operator, or the helper stepping down",
    description="Emits `resident.helper_revoked`; a grant already ended is 409 `helper_grant_revoked`.",
    responses=error_responses(401, 404, 409, 422),
)
async def revoke_helper(
    resident_id: uuid.UUID, grant_id: uuid.UUID, session: SessionDep, principal: Caller
) -> s.HelperGrant:
    return await helpers.revoke(session, resident_id, grant_id, by=principal)


@router.get(
    "/{resident_id}/helping",
    response_model=list[s.HelperGrant],
    summary="Whom the resident acts for as a helper (the helper themself, or an operator)",
    description=HELPER_NOTE,
    responses=error_responses(401, 404, 422),
)
async def list_helping(resident_id: uuid.UUID, session: SessionDep, principal: Caller) -> list[s.HelperGrant]:
    return await helpers.helping(session, resident_id, by=principal)


@router.post(
    "/{resident_id}/merge",
    response_model=s.MergeResult,
    summary="Merge a duplicate record of the same person into this one (operator)",
    description=(
        "Bookings, app-account links, the acting-for trail, helper grants, eligibility evidence, entitlement units "
        "drawn, series, waitlist places, calls, callbacks and urgent calls move to this record (the survivor); "
        "its empty fields are filled from the duplicate. The duplicate is gone: 404 `resident_merged` with "
        "`survivor_id`. Audited; emits `resident.merged` (feedback moves the complaints, needs and ratings). "
        "Refused with nothing changed: `merge_into_itself` (422), `unknown_resident` (422, `duplicate_id`), "
        "`already_merged` (409), `merge_id_card_conflict` (409: different ID numbers), `merge_booking_conflict` "
        "(409: both hold a booking of one slot), `merge_urgent_call_conflict` (409: both have an open urgent call)."
    ),
    responses=error_responses(401, 403, 404, 409, 422),
)
async def merge_resident(
    resident_id: uuid.UUID,
    data: s.MergeRequest,
    session: SessionDep,
    principal: Operator,
    settings: SettingsDep,
    now: Now,
) -> s.MergeResult:
    return await merge.merge(session, resident_id, data, by=principal, settings=settings, now=now)


@internal_router.post(
    "/resident-links",
    response_model=s.ResidentLinkAnswer,
    summary="The gateway only: the resident record of a phone it has just verified, linked to the app account",
    description=(
        "Called by the gateway at each sign-in by phone code and each refresh of one, with a token it signs for "
        "itself (scope `gateway:resident-links`; 403 `gateway_only` for anyone else). 404 `no_resident_for_phone` "
        "when the phone has no record (the app account then registers under its own id)."
    ),
    responses=error_responses(401, 403, 404, 422),
)
async def link_resident(data: s.ResidentLinkRequest, session: SessionDep, _gateway: Gateway) -> s.ResidentLinkAnswer:
    resident = await service.link_verified_phone(session, data)
    if resident is None:
        raise NotFound("No resident is registered with this phone.", code="no_resident_for_phone")
    return s.ResidentLinkAnswer(resident_id=resident.id)


@internal_router.post(
    "/resident-links/erased",
    response_model=s.ErasedResidents,
    summary="The gateway only: which of these records are erased (its reconciliation of app accounts)",
    description=(
        "The gateway forgets an app account when it forwards a successful `DELETE /api/v1/residents/{id}`; this "
        "catches the erasures it did not see (a replica that died before forgetting, an erasure made past it). Up "
        "to 500 ids; the answer names those whose record is erased (unknown ids are left out)."
    ),
    responses=error_responses(401, 403, 422),
)
async def erased_residents(data: s.ErasureCheck, session: ReadSessionDep, _gateway: Gateway) -> s.ErasedResidents:
    return s.ErasedResidents(erased=await service.erased_among(session, data.resident_ids))
