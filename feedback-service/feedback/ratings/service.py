"""The rules of rating: who may rate which booking, once, and what is kept of what they wrote."""

import uuid
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.ratings import repository
from feedback.ratings.models import DIMENSIONS, InvitationStatus
from feedback.ratings.models import Rating as RatingModel
from feedback.ratings.models import RatingInvitation as InvitationModel
from feedback.ratings.schemas import PublicRating, Rating, RatingCreate, RatingInvitation, RatingUpdate
from feedback.scores import service as scores_service
from service_kit.auth import Principal, Role
from service_kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from service_kit.events.contracts import BookingCompleted, RatingInvitationChanged, RatingSubmitted
from service_kit.events.outbox import emit
from service_kit.logging import mask_personal_data
from service_kit.pagination import Page, Pagination
from service_kit.timeutil import utcnow

log = structlog.get_logger("feedback.ratings")

# Operators rate for residents who call in; an admin may do whatever an operator does.
ACTS_FOR_RESIDENTS = (Role.operator, Role.admin)
# Staff who may read a rating in full (with the resident's id) for supervision.
READS_FULL_RATINGS = (Role.operator, Role.official, Role.admin)
# A rating may be corrected for a week; after that it stands as given.
EDIT_WINDOW = timedelta(days=7)


async def open_invitation(session: AsyncSession, event: BookingCompleted) -> bool:
    """Invite the resident of a completed booking to rate it. A second event for the same booking (a
    redelivery under a new id, a replayed dead letter) finds the invitation there and changes nothing."""
    if event.resident_id is None:
        # A booking without a registered resident (e.g. an anonymous walk-in) has nobody to invite.
        log.info("completed booking has no resident, no invitation", booking_id=str(event.booking_id))
        return False
    invitation_id = uuid.uuid4()
    opened = await repository.insert_invitation_if_absent(
        session,
        invitation_id=invitation_id,
        booking_id=event.booking_id,
        resident_id=event.resident_id,
        provider_id=event.provider_id,
        offering_id=event.offering_id,
        completed_at=event.occurred_at,
    )
    if opened:
        await _announce(session, invitation_id, event.booking_id, event.resident_id, InvitationStatus.pending)
    return opened


async def _announce(
    session: AsyncSession,
    invitation_id: uuid.UUID,
    booking_id: uuid.UUID,
    resident_id: uuid.UUID,
    status: InvitationStatus,
) -> None:
    """Say that a resident's invitations changed, in the change's transaction: every API process then drops what it
    kept of her list (``answers.READ_MOSTLY``), whichever process (a worker, another replica) made the change."""
    await emit(
        session,
        RatingInvitationChanged(
            invitation_id=invitation_id,
            booking_id=booking_id,
            resident_id=resident_id,
            status=status.value,
            occurred_at=utcnow(),
        ),
    )


def whose_invitations(viewer: Principal, resident_id: uuid.UUID | None) -> uuid.UUID:
    """The resident whose invitations ``viewer`` asks for, and may read: her own, or the one an operator names."""
    if viewer.has_any(*ACTS_FOR_RESIDENTS):
        if resident_id is None:
            raise ValidationFailed("An operator names the resident: ?resident_id=…", code="resident_id_required")
        return resident_id
    whose = _own_resident_id(viewer)
    if resident_id is not None and resident_id != whose:
        raise NotFound("No such resident.")
    return whose


async def list_invitations(
    session: AsyncSession, *, whose: uuid.UUID, status: InvitationStatus, page: Pagination
) -> Page[RatingInvitation]:
    """The invitations of the resident ``whose_invitations`` named."""
    rows, total = await repository.list_invitations(session, resident_id=whose, status=status, page=page)
    return page.of([RatingInvitation.from_model(r) for r in rows], total)


async def submit_rating(session: AsyncSession, data: RatingCreate, *, by: Principal) -> Rating:
    """Rate a completed booking, once. The resident rates their own; an operator rates for the resident."""
    invitation = await repository.get_invitation_by_booking(session, data.booking_id)
    if invitation is None:
        raise NotFound("No completed booking to rate with this id.", code="booking_not_found")
    on_behalf_of = _acting_for(by, invitation)
    if invitation.status != InvitationStatus.pending or not await repository.mark_invitation_rated(
        session, invitation.id
    ):
        raise Conflict("This booking has already been rated.", code="already_rated")
    await _announce(session, invitation.id, invitation.booking_id, invitation.resident_id, InvitationStatus.rated)

    now = utcnow()
    rating = RatingModel(
        id=uuid.uuid4(),
        invitation_id=invitation.id,
        booking_id=invitation.booking_id,
        resident_id=invitation.resident_id,
        provider_id=invitation.provider_id,
        offering_id=invitation.offering_id,
        stars=data.stars,
        **data.dimensions.model_dump(),
        tags=_clean_tags(data.tags),
        comment=mask_personal_data(data.comment) if data.comment else None,
        submitted_by=by.subject,
        on_behalf_of=on_behalf_of,
        created_at=now,
        updated_at=now,
    )
    try:
        await repository.insert_rating(session, rating)
    except repository.DuplicateRating as exc:
        raise Conflict("This booking has already been rated.", code="already_rated") from exc

    await emit(
        session,
        RatingSubmitted(
            rating_id=rating.id,
            booking_id=rating.booking_id,
            provider_id=rating.provider_id,
            offering_id=rating.offering_id,
            stars=rating.stars,
            dimensions={d: v for d in DIMENSIONS if (v := getattr(rating, d)) is not None},
            submitted_at=now,
        ),
    )
    await scores_service.mark_changed(session, provider_id=rating.provider_id, offering_id=rating.offering_id, now=now)
    return Rating.from_model(rating)


async def edit_rating(
    session: AsyncSession, rating_id: uuid.UUID, data: RatingUpdate, *, by: Principal, now: datetime | None = None
) -> Rating:
    """Correct a rating within 7 days, by its resident or an operator for them. ``rating.submitted`` is not sent
    again (the registry counts each rating once); the changed score leaves as a debounced ``score.updated``."""
    now = now or utcnow()
    rating = await repository.get_rating(session, rating_id)
    if rating is None or not (_is_residents_own(by, rating.resident_id) or by.has_any(*ACTS_FOR_RESIDENTS)):
        raise NotFound("No such rating.")
    if now - rating.created_at > EDIT_WINDOW:
        raise Conflict("A rating can be changed within 7 days of giving it.", code="edit_window_closed")
    changes = data.model_dump(exclude_unset=True)
    if not changes:
        raise ValidationFailed("Send at least one field to change.", code="empty_edit")
    if "stars" in changes:
        if data.stars is None:
            raise ValidationFailed("stars: cannot be removed", code="stars_required")
        rating.stars = data.stars
    if "dimensions" in changes:
        for dimension in DIMENSIONS:
            setattr(rating, dimension, getattr(data.dimensions, dimension) if data.dimensions else None)
    if "tags" in changes:
        rating.tags = _clean_tags(data.tags or [])
    if "comment" in changes:
        rating.comment = mask_personal_data(data.comment) if data.comment else None
    rating.updated_at = now
    await session.flush()
    await scores_service.mark_changed(session, provider_id=rating.provider_id, offering_id=rating.offering_id, now=now)
    return Rating.from_model(rating)


async def get_rating(session: AsyncSession, rating_id: uuid.UUID, *, viewer: Principal) -> Rating:
    """The full rating, for the resident who gave it and for staff; to anyone else it does not exist."""
    rating = await repository.get_rating(session, rating_id)
    if rating is None or not (_is_residents_own(viewer, rating.resident_id) or viewer.has_any(*READS_FULL_RATINGS)):
        raise NotFound("No such rating.")
    return Rating.from_model(rating)


async def list_ratings_of_provider(
    session: AsyncSession, provider_id: uuid.UUID, page: Pagination
) -> Page[PublicRating]:
    rows, total = await repository.list_ratings_of_provider(session, provider_id, page)
    return page.of([PublicRating.from_model(r) for r in rows], total)


def _own_resident_id(principal: Principal) -> uuid.UUID:
    if not principal.has_any(Role.resident) or principal.resident_id is None:
        raise Forbidden("Only a resident (or an operator for them) may do this.", code="not_a_resident")
    return principal.resident_id


def _is_residents_own(principal: Principal, resident_id: uuid.UUID) -> bool:
    return principal.has_any(Role.resident) and principal.resident_id == resident_id


def _acting_for(principal: Principal, invitation: InvitationModel) -> uuid.UUID | None:
    """None when the resident rates themself; the resident's id when an operator rates for them.
    Anyone else gets 404, as if the booking did not exist."""
    if _is_residents_own(principal, invitation.resident_id):
        return None
    if principal.has_any(*ACTS_FOR_RESIDENTS):
        return invitation.resident_id
    raise NotFound("No completed booking to rate with this id.", code="booking_not_found")


def _clean_tags(tags: list[str]) -> list[str]:
    """Masked like the comment (a tag is free text too), duplicates dropped, order kept."""
    return list(dict.fromkeys(mask_personal_data(t) for t in tags))


async def forget_resident(session: AsyncSession, resident_id: uuid.UUID) -> None:
    """Erasure: a resident's ratings keep their stars, dimensions and tags (they still count), not their comments."""
    await repository.forget_comments(session, resident_id)
