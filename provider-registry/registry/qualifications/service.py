"""Qualifications decide whether an offering of a regulated category may be published; staff records keep
who delivers the service, and hide their phone numbers from readers who have no need for them."""

import uuid
from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from registry.organizations import service as organizations_service
from registry.qualifications import repository
from registry.qualifications.models import Qualification, StaffMember
from registry.qualifications.schemas import (
    Certification,
    QualificationCreate,
    QualificationStatus,
    StaffCreate,
    StaffUpdate,
)
from registry.qualifications.schemas import Qualification as QualificationOut
from registry.qualifications.schemas import StaffMember as StaffMemberOut
from service_kit.auth import Principal, Role
from service_kit.errors import Conflict, NotFound
from service_kit.timeutil import local_now


def today() -> date:
    """The date in Fangshan: a license valid until 31 December is valid all of that Beijing day."""
    return local_now().date()


def status_of(qualification: Qualification, on: date) -> QualificationStatus:
    if on < qualification.valid_from:
        return QualificationStatus.not_yet_valid
    if on > qualification.valid_until:
        return QualificationStatus.expired
    return QualificationStatus.valid


def describe(qualification: Qualification, on: date | None = None) -> QualificationOut:
    return QualificationOut.model_validate(
        {
            **{name: getattr(qualification, name) for name in QualificationOut.model_fields if name != "status"},
            "status": status_of(qualification, on or today()),
        }
    )


def _org_not_found() -> NotFound:
    return NotFound("No organization with this id.", code="organization_not_found")


async def add(
    session: AsyncSession, organization_id: uuid.UUID, data: QualificationCreate, *, by: Principal
) -> Qualification:
    """Record a license of the organization (its own admin or an official)."""
    if not organizations_service.may_manage(by, organization_id):
        raise _org_not_found()
    await organizations_service.get(session, organization_id)
    qualification = Qualification(organization_id=organization_id, **data.model_dump())
    await repository.add(session, qualification)
    return qualification


async def list_for(
    session: AsyncSession, organization_id: uuid.UUID, viewer: Principal | None, *, limit: int, offset: int
) -> tuple[Sequence[Qualification], int]:
    """An organization's licenses, for whoever may see the organization (licenses are public record)."""
    await organizations_service.get_visible(session, organization_id, viewer)
    return await repository.list_for(session, organization_id, limit=limit, offset=offset)


async def expiring(
    session: AsyncSession, *, within_days: int, limit: int, offset: int
) -> tuple[Sequence[Qualification], int]:
    start = today()
    return await repository.expiring(
        session, today=start, until=start + timedelta(days=within_days), limit=limit, offset=offset
    )


async def require_valid(session: AsyncSession, organization_id: uuid.UUID, kind: str) -> None:
    """409 unless the organization holds a ``kind`` qualification valid today."""
    held = await repository.of_kind(session, organization_id, kind)
    on = today()
    statuses = {status_of(q, on) for q in held}
    if QualificationStatus.valid in statuses:
        return
    if QualificationStatus.expired in statuses:
        raise Conflict(
            f"The provider's {kind!r} qualification has expired; renew it before publishing.",
            code="qualification_expired",
            qualification=kind,
        )
    raise Conflict(
        f"This category requires a {kind!r} qualification, which the provider does not hold.",
        code="qualification_missing",
        qualification=kind,
    )


# ------------------------------------------------------------------ staff


def _sees_phones(viewer: Principal, organization_id: uuid.UUID) -> bool:
    """Officials and the provider itself; an operator books the provider, not its caregivers."""
    return viewer.has_any(Role.official, Role.admin) or viewer.provider_id == organization_id


def _may_read_staff(viewer: Principal, organization_id: uuid.UUID) -> bool:
    return viewer.is_staff or viewer.provider_id == organization_id


def mask_phone(phone: str) -> str:
    """``+8613801010001`` → ``+86138****0001``: enough to recognise, not enough to call."""
    head = 6 if phone.startswith("+86") else 3
    if len(phone) <= head + 4:
        return "*" * len(phone)
    return phone[:head] + "*" * (len(phone) - head - 4) + phone[-4:]


def present_staff(member: StaffMember, viewer: Principal) -> StaffMemberOut:
    phone = member.phone
    if phone is not None and not _sees_phones(viewer, member.organization_id):
        phone = mask_phone(phone)
    return StaffMemberOut(
        id=member.id,
        organization_id=member.organization_id,
        name=member.name,
        role=member.role,
        phone=phone,
        certifications=[Certification.model_validate(c) for c in member.certifications],
        active=member.active,
        created_at=member.created_at,
        updated_at=member.updated_at,
    )


async def add_staff(
    session: AsyncSession, organization_id: uuid.UUID, data: StaffCreate, *, by: Principal
) -> StaffMember:
    if not organizations_service.may_manage(by, organization_id):
        raise _org_not_found()
    await organizations_service.get(session, organization_id)
    member = StaffMember(organization_id=organization_id, active=True, **data.model_dump(mode="json"))
    await repository.add(session, member)
    return member


async def update_staff(
    session: AsyncSession, organization_id: uuid.UUID, staff_id: uuid.UUID, data: StaffUpdate, *, by: Principal
) -> StaffMember:
    member = await repository.get_staff(session, staff_id)
    if (
        member is None
        or member.organization_id != organization_id
        or not organizations_service.may_manage(by, organization_id)
    ):
        raise NotFound("No staff member with this id.", code="staff_not_found")
    for name, value in data.model_dump(mode="json", exclude_unset=True).items():
        setattr(member, name, value)
    await session.flush()
    return member


async def list_staff(
    session: AsyncSession, organization_id: uuid.UUID, viewer: Principal, *, limit: int, offset: int
) -> tuple[Sequence[StaffMember], int]:
    if not _may_read_staff(viewer, organization_id):
        raise _org_not_found()
    await organizations_service.get(session, organization_id)
    return await repository.list_staff(session, organization_id, limit=limit, offset=offset)
