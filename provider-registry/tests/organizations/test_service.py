import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.organizations import repository, service
from registry.organizations.models import OrganizationKind, OrganizationStatus
from registry.organizations.schemas import OrganizationCreate
from registry.organizations.scoring import PRIOR_MEAN, PRIOR_WEIGHT, average, bayesian_score
from service_kit.auth import Principal, Role
from service_kit.errors import Conflict, InvalidTransition
from service_kit.events.contracts import ContractSigned, ContractTerminated, RatingSubmitted
from service_kit.events.tables import outbox_event

OFFICIAL = Principal(subject="official-li", roles=frozenset({Role.official}))


async def new_organization(session: AsyncSession, uscc: str, *, verified: bool = True) -> uuid.UUID:
    data = OrganizationCreate(name_zh="房山区邻里互助社", kind=OrganizationKind.startup, uscc=uscc)
    organization = await service.apply(session, data, by=OFFICIAL)
    if verified:
        await service.change_status(session, organization.id, service.VERIFY, by=OFFICIAL, reason=None)
    return organization.id


def rating(provider_id: uuid.UUID, stars: int, rating_id: uuid.UUID | None = None) -> RatingSubmitted:
    return RatingSubmitted(
        rating_id=rating_id or uuid.uuid4(),
        booking_id=uuid.uuid4(),
        provider_id=provider_id,
        offering_id=uuid.uuid4(),
        stars=stars,
        submitted_at=datetime.now(UTC),
    )


def contract(provider_id: uuid.UUID, contract_id: uuid.UUID, *, terminated: bool = False) -> ContractSigned:
    cls = ContractTerminated if terminated else ContractSigned
    return cls(
        contract_id=contract_id,
        provider_id=provider_id,
        title="2027年房山区居家养老服务",
        amount_fen=50_000_000,
        start_date=date(2027, 1, 1),
        end_date=date(2027, 12, 31),
        status="terminated" if terminated else "active",
        occurred_at=datetime.now(UTC),
    )


def test_the_bayesian_score_starts_at_the_prior_and_moves_towards_the_ratings() -> None:
    assert bayesian_score(0, 0) == PRIOR_MEAN
    assert average(0, 0) is None
    # Two five-star ratings move a new provider only a little above the prior...
    assert bayesian_score(10, 2) == pytest.approx((PRIOR_WEIGHT * PRIOR_MEAN + 10) / (PRIOR_WEIGHT + 2))
    assert bayesian_score(10, 2) < bayesian_score(960, 200)  # ...less than 200 ratings averaging 4.8.
    assert bayesian_score(1, 1) > 1


async def test_ratings_are_counted_once_each(session: AsyncSession, registry_uscc: str) -> None:
    provider_id = await new_organization(session, registry_uscc)
    first = rating(provider_id, 5)
    await service.count_rating(session, first)
    await service.count_rating(session, first)  # the same rating, delivered again
    await service.count_rating(session, rating(provider_id, 2))
    organization = await repository.get(session, provider_id)
    assert organization is not None
    assert (organization.rating_count, organization.rating_sum) == (2, 7)
    assert organization.score == pytest.approx(bayesian_score(7, 2))


async def test_a_rating_for_an_unknown_provider_changes_no_organization(session: AsyncSession) -> None:
    await service.count_rating(session, rating(uuid.uuid4(), 4))  # no error: logged and kept


async def test_the_contract_flag_follows_active_contracts(session: AsyncSession, registry_uscc: str) -> None:
    provider_id = await new_organization(session, registry_uscc)
    first, second = uuid.uuid4(), uuid.uuid4()

    async def flag() -> bool:
        organization = await repository.get(session, provider_id)
        assert organization is not None
        return organization.has_government_contract

    await service.record_contract(session, contract(provider_id, first))
    await service.record_contract(session, contract(provider_id, second))
    assert await flag() is True
    await service.record_contract(session, contract(provider_id, first, terminated=True))
    assert await flag() is True
    await service.record_contract(session, contract(provider_id, second, terminated=True))
    assert await flag() is False
    # A signing delivered again after the termination does not revive the contract.
    await service.record_contract(session, contract(provider_id, second))
    assert await flag() is False


async def test_a_transition_is_audited_and_announced_in_the_same_transaction(
    session: AsyncSession, registry_uscc: str
) -> None:
    provider_id = await new_organization(session, registry_uscc, verified=False)
    await service.change_status(session, provider_id, service.VERIFY, by=OFFICIAL, reason=None)
    await service.change_status(session, provider_id, service.SUSPEND, by=OFFICIAL, reason="投诉核实")
    rows = (await session.execute(select(outbox_event.c.type, outbox_event.c.data))).all()
    assert [r.type for r in rows] == ["linli.provider.verified.v1", "linli.provider.suspended.v1"]
    assert rows[1].data == {
        "provider_id": str(provider_id),
        "name": "房山区邻里互助社",
        "kind": "startup",
        "status": "suspended",
        "reason": "投诉核实",
    }
    history = await service.status_history(session, provider_id)
    assert [c.to_status for c in history] == ["applied", "verified", "suspended"]


async def test_only_one_of_two_racing_transitions_wins(session: AsyncSession, registry_uscc: str) -> None:
    provider_id = await new_organization(session, registry_uscc, verified=False)
    applied, verified = OrganizationStatus.applied, OrganizationStatus.verified
    assert await repository.change_status(session, provider_id, from_status=applied, to_status=verified)
    assert not await repository.change_status(session, provider_id, from_status=applied, to_status=verified)
    with pytest.raises(InvalidTransition):
        await service.change_status(session, provider_id, service.VERIFY, by=OFFICIAL, reason=None)


async def test_a_uscc_is_taken_once(session: AsyncSession, registry_uscc: str) -> None:
    await new_organization(session, registry_uscc)
    with pytest.raises(Conflict) as raised:
        await new_organization(session, registry_uscc)
    assert raised.value.code == "uscc_taken"
