"""The rules of an organization's life: application, verification, suspension and reinstatement, and its standing."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from registry.organizations import repository
from registry.organizations.models import (
    ContractStatus,
    Organization,
    OrganizationKind,
    OrganizationStatus,
    OrganizationStatusChange,
    ProviderContract,
)
from registry.organizations.schemas import OrganizationCreate
from registry.organizations.scoring import bayesian_score
from service_kit.auth import Principal, Role
from service_kit.errors import Conflict, InvalidTransition, NotFound
from service_kit.events.contracts import (
    ContractSigned,
    ContractTerminated,
    ProviderReinstated,
    ProviderStatusChanged,
    ProviderSuspended,
    ProviderVerified,
    RatingSubmitted,
)
from service_kit.events.outbox import emit

log = structlog.get_logger("linli.registry.organizations")


@dataclass(frozen=True)
class Transition:
    name: str
    done: str
    from_status: OrganizationStatus
    to_status: OrganizationStatus
    event: type[ProviderStatusChanged]


VERIFY = Transition("verify", "verified", OrganizationStatus.applied, OrganizationStatus.verified, ProviderVerified)
SUSPEND = Transition(
    "suspend", "suspended", OrganizationStatus.verified, OrganizationStatus.suspended, ProviderSuspended
)
REINSTATE = Transition(
    "reinstate", "reinstated", OrganizationStatus.suspended, OrganizationStatus.verified, ProviderReinstated
)


def sees_everything(principal: Principal | None) -> bool:
    return principal is not None and principal.is_staff


async def apply(session: AsyncSession, data: OrganizationCreate, *, by: Principal) -> Organization:
    """Record an application (status ``applied``); the USCC identifies an organization once."""
    if await repository.uscc_taken(session, data.uscc):
        raise Conflict("An organization with this USCC is already registered.", code="uscc_taken")
    organization = Organization(
        name_zh=data.name_zh,
        name_en=data.name_en,
        kind=data.kind,
        uscc=data.uscc,
        contact_phone=data.contact_phone,
        status=OrganizationStatus.applied,
        applied_by=by.subject,
    )
    try:
        await repository.add(session, organization)
    except IntegrityError as exc:
        # Another application with the same USCC committed between our check and our insert.
        raise Conflict("An organization with this USCC is already registered.", code="uscc_taken") from exc
    await repository.add_status_change(
        session,
        OrganizationStatusChange(
            organization_id=organization.id, from_status=None, to_status=OrganizationStatus.applied, actor=by.subject
        ),
    )
    return organization


async def get(session: AsyncSession, organization_id: uuid.UUID) -> Organization:
    """Any organization, whatever its status (for other modules' rules); 404 when unknown."""
    organization = await repository.get(session, organization_id)
    if organization is None:
        raise NotFound("No organization with this id.", code="organization_not_found")
    return organization


async def get_visible(session: AsyncSession, organization_id: uuid.UUID, viewer: Principal | None) -> Organization:
    """The organization as ``viewer`` may see it: the public sees verified providers only."""
    organization = await get(session, organization_id)
    if not _can_see(organization, viewer):
        raise NotFound("No organization with this id.", code="organization_not_found")
    return organization


def _can_see(organization: Organization, viewer: Principal | None) -> bool:
    if organization.status == OrganizationStatus.verified or sees_everything(viewer):
        return True
    return viewer is not None and (viewer.provider_id == organization.id or viewer.subject == organization.applied_by)


async def list_visible(
    session: AsyncSession,
    viewer: Principal | None,
    *,
    kind: OrganizationKind | None,
    status: OrganizationStatus | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Organization], int]:
    visible = repository.visible_to(
        everything=sees_everything(viewer),
        provider_id=viewer.provider_id if viewer else None,
        subject=viewer.subject if viewer else None,
    )
    return await repository.list_page(session, visible=visible, kind=kind, status=status, limit=limit, offset=offset)


async def change_status(
    session: AsyncSession, organization_id: uuid.UUID, transition: Transition, *, by: Principal, reason: str | None
) -> Organization:
    """Move the organization along ``transition``, audit it, and tell the other services."""
    organization = await get(session, organization_id)
    if organization.status != transition.from_status or not await repository.change_status(
        session, organization_id, from_status=transition.from_status, to_status=transition.to_status
    ):
        raise InvalidTransition(
            f"An organization that is {organization.status} cannot be {transition.done}.",
            current_status=str(organization.status),
        )
    await repository.add_status_change(
        session,
        OrganizationStatusChange(
            organization_id=organization_id,
            from_status=transition.from_status,
            to_status=transition.to_status,
            actor=by.subject,
            reason=reason,
        ),
    )
    organization = await get(session, organization_id)
    await emit(
        session,
        transition.event(
            provider_id=organization.id,
            name=organization.name_zh,
            kind=organization.kind.value,
            status=organization.status.value,
            reason=reason,
        ),
    )
    return organization


async def status_history(session: AsyncSession, organization_id: uuid.UUID) -> Sequence[OrganizationStatusChange]:
    await get(session, organization_id)
    return await repository.list_status_changes(session, organization_id)


def may_manage(principal: Principal, provider_id: uuid.UUID) -> bool:
    """Officials manage every provider's catalog; a provider's admin only its own."""
    if principal.has_any(Role.official, Role.admin):
        return True
    return principal.has_any(Role.provider_admin) and principal.provider_id == provider_id


def may_manage_offerings(principal: Principal, provider_id: uuid.UUID) -> bool:
    """Who manages a provider's offerings: as ``may_manage``, and the provider's own system by an API key with
    the ``offerings:write`` scope."""
    return may_manage(principal, provider_id) or principal.system_of(provider_id, "offerings:write")


def may_see_unpublished(principal: Principal | None, provider_id: uuid.UUID) -> bool:
    """Staff see every provider's drafts; a provider's own people see its own."""
    if principal is None:
        return False
    return principal.is_staff or principal.provider_id == provider_id


# ------------------------------------------------------------------ standing, from other services' events


async def count_rating(session: AsyncSession, event: RatingSubmitted) -> None:
    """Fold a resident's rating into the provider's score, once per rating."""
    if not await repository.record_rating(
        session,
        rating_id=event.rating_id,
        provider_id=event.provider_id,
        stars=event.stars,
        submitted_at=event.submitted_at,
    ):
        return
    totals = await repository.add_to_rating_totals(session, event.provider_id, event.stars)
    if totals is None:
        log.warning(
            "rating for an unknown provider", provider_id=str(event.provider_id), rating_id=str(event.rating_id)
        )
        return
    rating_sum, rating_count = totals
    await repository.set_score(session, event.provider_id, bayesian_score(rating_sum, rating_count))


async def record_contract(session: AsyncSession, event: ContractSigned | ContractTerminated) -> None:
    """Keep ``has_government_contract`` true while the provider holds at least one active contract.

    A termination is final: a ``contract.signed`` redelivered after it does not revive the contract.
    """
    status = ContractStatus.terminated if isinstance(event, ContractTerminated) else ContractStatus.active
    contract = await repository.get_contract(session, event.contract_id)
    if contract is None:
        await repository.add_contract(
            session, ProviderContract(contract_id=event.contract_id, provider_id=event.provider_id, status=status)
        )
    elif contract.status != ContractStatus.terminated:
        contract.status = status
        await session.flush()
    await repository.refresh_contract_flag(session, event.provider_id)
