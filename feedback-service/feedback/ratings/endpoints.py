import uuid
from typing import Annotated

from fastapi import Depends, Query, Request, Response

from feedback.ratings import service
from feedback.ratings.answers import INVITATIONS, PAGE, PRIVATE_REVALIDATE, READ_MOSTLY
from feedback.ratings.models import InvitationStatus
from feedback.ratings.schemas import PublicRating, Rating, RatingCreate, RatingInvitation, RatingUpdate
from service_kit.auth import CurrentPrincipal, Principal, Role, require_roles
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1", tags=["ratings"])

# Residents rate their own bookings; operators rate for the residents who call in.
Rater = Annotated[Principal, Depends(require_roles(Role.resident, Role.operator))]


@router.get(
    "/rating-invitations",
    response_model=Page[RatingInvitation],
    summary="Completed bookings waiting for a rating",
    responses=error_responses(401, 403, 404, 422),
)
async def list_rating_invitations(
    request: Request,
    session: ReadSessionDep,
    principal: Rater,
    page: PaginationDep,
    resident_id: Annotated[uuid.UUID | None, Query(description="Required for operators")] = None,
    status: InvitationStatus = InvitationStatus.pending,
) -> Response:
    """The app polls this: the answer is kept per resident until her invitations change (``answers``)."""
    whose = service.whose_invitations(principal, resident_id)
    return await READ_MOSTLY.answer(
        request,
        INVITATIONS,
        lambda: service.list_invitations(session, whose=whose, status=status, page=page),
        PAGE,
        cache_control=PRIVATE_REVALIDATE,
        partition=str(whose),
    )


@router.post(
    "/ratings",
    response_model=Rating,
    status_code=201,
    summary="Rate a completed booking (once)",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def submit_rating(request: Request, session: SessionDep, principal: Rater, body: RatingCreate) -> Rating:
    rating = await service.submit_rating(session, body, by=principal)
    # Her next poll reads her list again here at once; other processes drop it when its event reaches them.
    READ_MOSTLY.forget(request, INVITATIONS, str(rating.resident_id))
    return rating


@router.get(
    "/ratings",
    response_model=Page[PublicRating],
    summary="A provider's ratings, as the public sees them",
    responses=error_responses(422),
)
async def list_ratings(session: ReadSessionDep, provider_id: uuid.UUID, page: PaginationDep) -> Page[PublicRating]:
    return await service.list_ratings_of_provider(session, provider_id, page)


@router.get(
    "/ratings/{rating_id}",
    response_model=Rating,
    summary="One rating in full (its resident and staff)",
    responses=error_responses(401, 404, 422),
)
async def get_rating(session: ReadSessionDep, principal: CurrentPrincipal, rating_id: uuid.UUID) -> Rating:
    return await service.get_rating(session, rating_id, viewer=principal)


@router.patch(
    "/ratings/{rating_id}",
    response_model=Rating,
    summary="Change a rating within 7 days of giving it (its resident, or an operator for them)",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def edit_rating(session: SessionDep, principal: Rater, rating_id: uuid.UUID, body: RatingUpdate) -> Rating:
    return await service.edit_rating(session, rating_id, body, by=principal)
