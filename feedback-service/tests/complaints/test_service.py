"""The SLA sweep with a controlled clock: each breach escalated once, deadlines by severity, the periodic job."""

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback.app import create_app
from feedback.complaints import service
from feedback.complaints.metrics import complaints_past_sla
from feedback.complaints.models import ComplaintStatus, StepAction
from feedback.complaints.schemas import ComplaintCreate, StepCreate
from feedback.config import Settings
from service_kit.auth import Principal, Role
from service_kit.events.contracts import ComplaintEscalated, ProviderVerified
from service_kit.events.tables import outbox_event
from service_kit.pagination import Pagination
from service_kit.testing import running_app
from service_kit.timeutil import utcnow

RESIDENT = Principal(subject="resident-1", roles=frozenset({Role.resident}), resident_id=uuid.uuid4())
OFFICIAL = Principal(subject="official-li", roles=frozenset({Role.official}))
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=utcnow().tzinfo)
PROVIDER = uuid.uuid4()


@pytest.fixture(autouse=True)
async def provider_is_known(sessionmaker: async_sessionmaker[AsyncSession], known_in_database: Any) -> None:
    """The provider these complaints are about, as the registry's ``provider.verified`` made it known."""
    verified = ProviderVerified(provider_id=PROVIDER, name="夕阳红助餐", kind="public_welfare", status="verified")
    async with sessionmaker() as session, session.begin():
        await known_in_database(session, verified)


def complaint(severity: str = "normal") -> ComplaintCreate:
    return ComplaintCreate.model_validate(
        {
            "target_kind": "provider",
            "target_id": str(PROVIDER),
            "category": "service_quality",
            "severity": severity,
            "description": "饭菜太咸",
        }
    )


async def past_sla(session: AsyncSession, now: datetime) -> dict[str, float]:
    """``linli_complaints_past_sla`` of normal complaints by deadline, as a scrape at ``now`` reads it."""
    await complaints_past_sla(session, now=now)
    return {
        deadline: REGISTRY.get_sample_value("linli_complaints_past_sla", {"deadline": deadline, "severity": "normal"})
        or 0.0
        for deadline in ("ack", "resolve")
    }


async def escalations(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(outbox_event.c.data).where(outbox_event.c.type == ComplaintEscalated.type).order_by(outbox_event.c.seq)
    )
    return [dict(r) for (r,) in rows]


async def test_an_unacknowledged_complaint_is_escalated_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    settings = Settings()
    async with sessionmaker() as session, session.begin():
        filed = await service.file_complaint(session, complaint(), by=RESIDENT, settings=settings, now=T0)

    async with sessionmaker() as session, session.begin():
        assert await past_sla(session, T0 + timedelta(hours=23)) == {"ack": 0, "resolve": 0}
        assert await service.sweep_overdue(session, settings=settings, now=T0 + timedelta(hours=23)) == 0
        assert await service.sweep_overdue(session, settings=settings, now=T0 + timedelta(hours=25)) == 1
        # What officials see in /metrics: one complaint past its acknowledgement deadline.
        assert await past_sla(session, T0 + timedelta(hours=25)) == {"ack": 1, "resolve": 0}
    async with sessionmaker() as session, session.begin():
        # The next sweeps find the breach already escalated.
        assert await service.sweep_overdue(session, settings=settings, now=T0 + timedelta(hours=26)) == 0
        (event,) = await escalations(session)
        assert event["complaint_id"] == str(filed.id)
        assert event["status"] == "submitted"
        detail = await service.get_complaint(session, filed.id, viewer=RESIDENT)
        assert detail.ack_escalated_at == T0 + timedelta(hours=25)
        assert detail.resolve_escalated_at is None
        escalated = detail.steps[-1]
        assert (escalated.action, escalated.actor, escalated.internal) == (
            StepAction.escalated,
            "linli-sla-sweep",
            False,
        )
        assert "24 h" in (escalated.note or "")

    # Still unresolved after 7 days: the second breach, escalated once too.
    async with sessionmaker() as session, session.begin():
        assert await service.sweep_overdue(session, settings=settings, now=T0 + timedelta(days=7, hours=1)) == 1
        assert await service.sweep_overdue(session, settings=settings, now=T0 + timedelta(days=9)) == 0
        assert len(await escalations(session)) == 2
        assert await past_sla(session, T0 + timedelta(days=9)) == {"ack": 1, "resolve": 1}


async def test_an_acknowledged_complaint_is_held_only_to_the_resolution_deadline(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    settings = Settings()
    async with sessionmaker() as session, session.begin():
        filed = await service.file_complaint(session, complaint(), by=RESIDENT, settings=settings, now=T0)
        await service.move(
            session, filed.id, StepAction.acknowledged, StepCreate(), by=OFFICIAL, settings=settings, now=T0
        )
    async with sessionmaker() as session, session.begin():
        assert await service.sweep_overdue(session, settings=settings, now=T0 + timedelta(days=2)) == 0
        await service.move(
            session,
            filed.id,
            StepAction.resolved,
            StepCreate(note="已处理"),
            by=OFFICIAL,
            settings=settings,
            now=T0 + timedelta(days=3),
        )
        # Resolved in time: nothing to escalate, ever.
        assert await service.sweep_overdue(session, settings=settings, now=T0 + timedelta(days=30)) == 0
        assert await escalations(session) == []


async def test_deadlines_are_configured_by_severity(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    settings = Settings(complaint_ack_hours={"urgent": 1}, complaint_resolve_hours={"low": 240})
    async with sessionmaker() as session, session.begin():
        urgent = await service.file_complaint(session, complaint("urgent"), by=RESIDENT, settings=settings, now=T0)
        low = await service.file_complaint(session, complaint("low"), by=RESIDENT, settings=settings, now=T0)
    assert urgent.ack_due_at == T0 + timedelta(hours=1)
    assert urgent.resolve_due_at == T0 + timedelta(hours=24)  # the default for urgent
    assert low.ack_due_at == T0 + timedelta(hours=24)
    assert low.resolve_due_at == T0 + timedelta(hours=240)
    async with sessionmaker() as session, session.begin():
        assert await service.sweep_overdue(session, settings=settings, now=T0 + timedelta(hours=2)) == 1
        page = await service.list_complaints(
            session, viewer=OFFICIAL, page=_page(), overdue=True, now=T0 + timedelta(hours=2)
        )
        assert [c.id for c in page.items] == [urgent.id]


async def test_a_reopened_complaint_gets_a_new_deadline_and_may_be_escalated_again(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    settings = Settings()
    async with sessionmaker() as session, session.begin():
        filed = await service.file_complaint(session, complaint(), by=RESIDENT, settings=settings, now=T0)
        for action in (StepAction.acknowledged, StepAction.resolved):
            await service.move(session, filed.id, action, StepCreate(), by=OFFICIAL, settings=settings, now=T0)
    async with sessionmaker() as session, session.begin():
        reopened_at = T0 + timedelta(days=6)
        detail = await service.move(
            session, filed.id, StepAction.reopened, StepCreate(), by=RESIDENT, settings=settings, now=reopened_at
        )
        assert detail.status == ComplaintStatus.reopened
        assert detail.resolve_due_at == reopened_at + timedelta(days=7)
        assert await service.sweep_overdue(session, settings=settings, now=reopened_at + timedelta(days=8)) == 1


async def test_the_background_job_escalates_and_publishes(
    service_env: dict[str, Any],
    database_factory: Any,
    service_dir: Any,
    read_events: Any,
    resident_headers: Any,
    official_headers: dict[str, str],
    known_in_database: Any,
) -> None:
    settings = Settings(
        **service_env,
        database_url=database_factory.new(service_dir),
        complaint_ack_hours={"normal": 0},
        complaint_sweep_seconds=0.1,
    )
    app = create_app(settings)
    async with running_app(app) as client:
        verified = ProviderVerified(provider_id=PROVIDER, name="夕阳红助餐", kind="public_welfare", status="verified")
        async with app.state.sessionmaker() as session, session.begin():
            await known_in_database(session, verified)
        response = await client.post(
            "/api/v1/complaints",
            json={
                "target_kind": "provider",
                "target_id": str(PROVIDER),
                "category": "other",
                "description": "没人理",
            },
            headers=resident_headers(uuid.uuid4()),
        )
        assert response.status_code == 201, response.text
        (event,) = await read_events(ComplaintEscalated, 1)
        assert event.complaint_id == uuid.UUID(response.json()["id"])
        detail = (await client.get(f"/api/v1/complaints/{event.complaint_id}", headers=official_headers)).json()
        assert detail["ack_escalated_at"] is not None
        assert [s["action"] for s in detail["steps"]] == ["submitted", "escalated"]


def _page() -> Pagination:
    return Pagination(limit=20, offset=0)
