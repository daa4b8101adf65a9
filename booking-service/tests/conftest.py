import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking.app import SERVICE_DIR, create_app
from booking.bookings.models import SlotCounter
from booking.catalog.consumers import subscription as catalog_subscription
from booking.communities.consumers import subscription as communities_subscription
from booking.config import Settings
from booking.waitlist import service as waitlist_service
from service_kit.auth import GATEWAY_SUBJECT, GatewayScope
from service_kit.events.consumer import apply_event
from service_kit.events.contracts import (
    CommunityUpserted,
    ContractChanged,
    ContractSigned,
    EventData,
    FundedOffering,
    OfferingPublished,
    OfferingSnapshot,
    WeeklyRule,
)
from service_kit.events.envelope import Envelope
from service_kit.events.tables import outbox_event
from service_kit.protection import KEYRING_INFO, PHONE, Keyring
from service_kit.testing import Clock, TestKeys, service_fixtures
from service_kit.timeutil import SHANGHAI, local_now, utcnow

# Most tests book tomorrow and deliver at once: they run without the visit timing rules (a visit starts no earlier
# than 30 minutes before its slot and lasts half of it), which ``bookings/test_visit_rules.py`` tests on a clock.
ANY_TIME_VISITS: dict[str, Any] = {"visit_start_margin_minutes": 366 * 24 * 60, "visit_min_duration_share": 0.0}


settings, app, client, service_dir = service_fixtures(Settings, create_app, SERVICE_DIR, **ANY_TIME_VISITS)


@pytest.fixture
def clock() -> Clock:
    """Tomorrow 07:00 in Beijing, two hours before the 09:00 visits the tests on a clock book; they move it."""
    return Clock(tomorrow_at(7))


@pytest.fixture
def app_on_clock(settings: Settings, clock: Clock) -> FastAPI:
    """The app judging requests by ``clock`` (the visit rules, what the assigned staff member may see): a module
    whose tests move time makes it its ``app``."""
    return clock.answers(create_app(settings))


@pytest.fixture
def sessionmaker(app: FastAPI, client: httpx.AsyncClient) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    return maker


def tomorrow() -> date:
    return local_now().date() + timedelta(days=1)


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    """A local (Beijing) time tomorrow."""
    return datetime.combine(tomorrow(), time(hour, minute), tzinfo=SHANGHAI)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A local (Beijing) time on ``day``."""
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


EVERY_DAY_MORNING = tuple(WeeklyRule(weekday=d, start="09:00", end="12:00") for d in range(7))
ALL_DAY = tuple(WeeklyRule(weekday=d, start="00:00", end="24:00") for d in range(7))


def offering_event(
    event_class: type[OfferingSnapshot] = OfferingPublished,
    *,
    offering_id: uuid.UUID | None = None,
    provider_id: uuid.UUID | None = None,
    **overrides: Any,
) -> OfferingSnapshot:
    values: dict[str, Any] = {
        "offering_id": offering_id or uuid.uuid4(),
        "provider_id": provider_id or uuid.uuid4(),
        "provider_name": "房山区长阳镇邻里养老驿站",
        "category_code": "elderly.meal_table",
        "name_zh": "老年餐桌",
        "name_en": "Meal table",
        "mode": "at_center",
        "price_fen": 3000,
        "duration_minutes": 60,
        "capacity_per_slot": 2,
        "weekly_rules": EVERY_DAY_MORNING,
        "status": "published",
        "version": 1,
    }
    values.update(overrides)
    return event_class(**values)


def contract_event(
    event_class: type[ContractChanged] = ContractSigned,
    *,
    offering_id: uuid.UUID,
    contract_id: uuid.UUID | None = None,
    provider_id: uuid.UUID | None = None,
    funded: tuple[FundedOffering, ...] | None = None,
    occurred_at: datetime | None = None,
    **overrides: Any,
) -> ContractChanged:
    today = local_now().date()
    values: dict[str, Any] = {
        "contract_id": contract_id or uuid.uuid4(),
        "provider_id": provider_id or uuid.uuid4(),
        "title": "2026年房山区居家养老助餐服务项目",
        "amount_fen": 10_000_000,
        "start_date": today - timedelta(days=1),
        "end_date": today + timedelta(days=365),
        "status": "active",
        "funded_offerings": funded
        if funded is not None
        else (
            FundedOffering(
                offering_id=offering_id,
                unit_price_fen=3000,
                resident_price_fen=500,
                quota=10,
                eligibility_tags=("age_80_plus",),
            ),
        ),
        "occurred_at": occurred_at or datetime.now(UTC),
    }
    values.update(overrides)
    return event_class(**values)


@dataclass
class World:
    """Builds the facts a test needs: catalog events applied as the consumer applies them, residents over HTTP."""

    client: httpx.AsyncClient
    sessionmaker: async_sessionmaker[AsyncSession]
    keys: TestKeys
    nats_url: str

    tomorrow = staticmethod(tomorrow)
    at = staticmethod(at)
    offering_event = staticmethod(offering_event)
    contract_event = staticmethod(contract_event)

    def phone_index(self, phone: str) -> str:
        """The blind index the service finds the E.164 ``phone`` by: what its database holds in its place."""
        keyring: Keyring = self.sessionmaker.kw["info"][KEYRING_INFO]
        return keyring.blind_index(PHONE, phone)

    async def publish(self, event: EventData, *, source: str = "registry", time: datetime | None = None) -> Envelope:
        """Publish ``event`` to JetStream the way its producing service's relay does."""
        envelope = Envelope.wrap(event, source=source)
        if time is not None:
            envelope = replace(envelope, time=time)
        nc = await nats.connect(self.nats_url)
        try:
            await nc.jetstream().publish(envelope.type, envelope.payload(), headers=envelope.headers())
        finally:
            await nc.close()
        return envelope

    async def apply(self, event: EventData, *, source: str = "registry") -> None:
        handler = catalog_subscription.handler_for(event.type)
        assert handler is not None
        await apply_event(self.sessionmaker, "test-catalog", handler, Envelope.wrap(event, source=source))

    async def offering(self, **overrides: Any) -> OfferingSnapshot:
        event = offering_event(**overrides)
        await self.apply(event)
        return event

    async def lunch_programme(
        self,
        *,
        units: int | None = None,
        quota: int = 1000,
        period: str = "month",
        unit: str = "booking",
        during: tuple[date, date] | None = None,
        horizon_days: int | None = None,
        **offering: Any,
    ) -> tuple[OfferingSnapshot, ContractChanged]:
        """老年餐桌 at 15 元 (every hour of every day, 30 a slot, unless ``offering`` says otherwise), of which a
        programme for residents of 80 and over pays 12 元: ``quota`` meals in all, ``units`` a ``period`` each when
        given (stated by an official), over ``during`` (the test contract's dates otherwise), bookable
        ``horizon_days`` ahead when given (set by an operator)."""
        lunch = await self.offering(**{"price_fen": 1500, "capacity_per_slot": 30, "weekly_rules": ALL_DAY, **offering})
        funded = FundedOffering(
            offering_id=lunch.offering_id,
            unit_price_fen=1500,
            resident_price_fen=300,
            quota=quota,
            eligibility_tags=("age_80_plus",),
        )
        dates = {"start_date": during[0], "end_date": during[1]} if during else {}
        contract = contract_event(offering_id=lunch.offering_id, funded=(funded,), **dates)
        await self.apply(contract, source="procurement")
        if units is not None:
            stated = await self.client.put(
                f"/api/v1/entitlements/programs/{contract.contract_id}/{lunch.offering_id}",
                json={"units_per_period": units, "period": period, "unit": unit},
                headers=self.keys.headers("official"),
            )
            assert stated.status_code == 200, stated.text
        if horizon_days is not None:
            rules = await self.client.put(
                f"/api/v1/availability/{lunch.offering_id}/rules",
                json={"horizon_days": horizon_days},
                headers=self.keys.headers("operator"),
            )
            assert rules.status_code == 200, rules.text
        return lunch, contract

    async def resident(
        self, *, name: str = "王秀英", phone: str | None = None, tags: list[str] | None = None, **fields: Any
    ) -> dict[str, Any]:
        """A resident an operator registers while she is on the phone (a new number unless ``phone``)."""
        body = {
            "name": name,
            "phone": phone or f"139{uuid.uuid4().int % 10**8:08d}",
            "eligibility_tags": tags or [],
            "consent": {"version": "2026-11", "channel": "phone"},
            **fields,
        }
        response = await self.client.post("/api/v1/residents", json=body, headers=self.keys.headers("operator"))
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def booking_body(
        self, offering: OfferingSnapshot, resident: dict[str, Any] | None = None, *, hour: int = 9
    ) -> dict[str, Any]:
        """A request to book ``offering`` tomorrow at ``hour``, for ``resident`` where one is named (a resident's
        own token books for herself)."""
        body = {"offering_id": str(offering.offering_id), "slot_start": self.at(tomorrow(), hour).isoformat()}
        if resident is not None:
            body["resident_id"] = resident["id"]
        return body

    async def book(
        self, offering: OfferingSnapshot, resident: dict[str, Any], slot_start: datetime, **extra: Any
    ) -> httpx.Response:
        body = {"offering_id": str(offering.offering_id), "slot_start": slot_start.isoformat(), **extra}
        body.setdefault("resident_id", resident["id"])
        return await self.client.post("/api/v1/bookings", json=body, headers=self.keys.headers("operator"))

    async def booked(self, **offering: Any) -> tuple[OfferingSnapshot, dict[str, Any], dict[str, Any]]:
        """An offering (``offering`` overrides its event), a new resident, and the operator's booking of her for
        tomorrow at 9: the start of a test about what happens to a booking."""
        event = await self.offering(**offering)
        resident = await self.resident()
        response = await self.book(event, resident, self.at(tomorrow(), 9))
        assert response.status_code == 201, response.text
        return event, resident, response.json()

    async def open_replacements(self) -> list[dict[str, Any]]:
        """The replacements an operator sees open."""
        response = await self.client.get("/api/v1/bookings/replacements", headers=self.keys.headers("operator"))
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def confirmed(self, offering: OfferingSnapshot, phone: str, hour: int = 9, days: int = 1) -> dict[str, Any]:
        """A booking of a new resident (``phone``) in ``days`` days at ``hour``, confirmed (by the operator when
        the offering does not confirm on its own)."""
        resident = await self.resident(phone=phone)
        response = await self.book(offering, resident, self.at(tomorrow() + timedelta(days=days - 1), hour))
        assert response.status_code == 201, response.text
        booking: dict[str, Any] = response.json()
        if booking["status"] == "requested":
            confirm = f"/api/v1/bookings/{booking['id']}/confirm"
            ok = await self.client.post(confirm, headers=self.keys.headers("operator"))
            assert ok.status_code == 200
        return booking

    async def emitted(self, booking_id: str) -> list[tuple[str, dict[str, Any]]]:
        """The events this booking emitted so far (outbox rows, in the order written)."""
        async with self.sessionmaker() as session:
            rows = await session.execute(
                select(outbox_event.c.type, outbox_event.c.data)
                .where(outbox_event.c.subject == booking_id)
                .order_by(outbox_event.c.seq)
            )
            return [(row.type, row.data) for row in rows]

    async def units_held(self, offering: OfferingSnapshot, slot_start: datetime) -> int:
        async with self.sessionmaker() as session:
            used = await session.scalar(
                select(SlotCounter.used).where(
                    SlotCounter.offering_id == offering.offering_id, SlotCounter.slot_start == slot_start
                )
            )
            return int(used or 0)

    async def cancel(self, booking: dict[str, Any], reason: str) -> httpx.Response:
        """An operator cancels ``booking`` for the caller's ``reason``."""
        return await self.client.post(
            f"/api/v1/bookings/{booking['id']}/cancel", json={"reason": reason}, headers=self.keys.headers("operator")
        )

    async def waitlist_entry(self, entry_id: str, resident: dict[str, Any]) -> dict[str, Any]:
        """A waitlist place as its resident sees it."""
        response = await self.client.get(
            f"/api/v1/bookings/waitlist/{entry_id}", headers=self.resident_headers(resident)
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def offered(self, entry_id: str, resident: dict[str, Any]) -> bool:
        """Whether a place (or a subsidised unit) is held for ``resident`` now."""
        return (await self.waitlist_entry(entry_id, resident))["status"] == "offered"

    async def let_offer_lapse(
        self, settings: Settings, lapsed: tuple[str, dict[str, Any]], following: tuple[str, dict[str, Any]]
    ) -> None:
        """The sweep after the hold of the offer to ``lapsed`` (an entry and its resident): that offer ends, the
        place passes to ``following``, and accepting it late is 409 ``no_offer``."""
        terms = waitlist_service.OfferTerms.of(settings)
        ended = await waitlist_service.pass_on_overdue_offers(
            self.sessionmaker, terms=terms, batch=10, now=utcnow() + terms.hold + timedelta(seconds=1)
        )
        assert ended == 1
        assert (await self.waitlist_entry(*lapsed))["status"] == "expired"
        assert await self.offered(*following)
        late = await self.client.post(
            f"/api/v1/bookings/waitlist/{lapsed[0]}/accept", headers=self.resident_headers(lapsed[1])
        )
        assert (late.status_code, late.json()["code"]) == (409, "no_offer")

    def provider_headers(self, offering: OfferingSnapshot, role: str = "provider_admin") -> dict[str, str]:
        return self.keys.headers(role, provider_id=offering.provider_id)

    def resident_headers(self, resident: dict[str, Any]) -> dict[str, str]:
        return self.keys.headers("resident", resident_id=resident["id"])

    async def signed_in_relative(self, name: str = "李红") -> tuple[dict[str, Any], dict[str, str], str]:
        """A relative who registered themself in the app after signing in with their phone: (record, token,
        phone)."""
        phone = f"+86139{uuid.uuid4().int % 10**8:08d}"
        sub = str(uuid.uuid4())
        token = self.keys.headers("resident", sub=sub, resident_id=sub, phone_number=phone, phone_number_verified=True)
        body = {"name": name, "phone": phone, "consent": {"version": "2026-11", "channel": "app"}}
        response = await self.client.post("/api/v1/residents", json=body, headers=token)
        assert response.status_code == 201, response.text
        return response.json(), token, phone

    async def sign_in(self, phone: str) -> str:
        """The gateway links a new app account to the record of ``phone`` at its sign-in: the account's subject."""
        sub = str(uuid.uuid4())
        link = await self.client.post(
            "/internal/v1/resident-links",
            json={"phone": phone, "account_subject": sub},
            headers=self.keys.headers(sub=GATEWAY_SUBJECT, scope=GatewayScope.resident_links.value),
        )
        assert link.status_code == 200, link.text
        return sub

    async def signed_in_mother(self) -> tuple[dict[str, Any], dict[str, str]]:
        """A mother an operator registered, who has since signed in with her phone (the gateway linked her)."""
        phone = f"+86139{uuid.uuid4().int % 10**8:08d}"
        mother = await self.resident(phone=phone)
        sub = await self.sign_in(phone)
        token = self.keys.headers(
            "resident", sub=sub, resident_id=mother["id"], phone_number=phone, phone_number_verified=True
        )
        return mother, token


@pytest.fixture
def world(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], test_keys: TestKeys, nats_url: str
) -> World:
    return World(client, sessionmaker, test_keys, nats_url)


# Communities of the registry's gazetteer (its migration seeds them) that the tests register residents in.
GAZETTEER = {
    "gongchen.shidai_jiahe": ("gongchen", "时代家和社区"),
    "gongchen.jiazhou_shuijun": ("gongchen", "加州水郡社区"),
    "changyang.tianxing": ("changyang", "天兴家园社区"),
}


async def make_communities_known(sessionmaker: async_sessionmaker[AsyncSession], *codes: str) -> None:
    """Apply the registry's ``community.upserted`` of ``codes`` as booking's consumer does."""
    for code in codes or tuple(GAZETTEER):
        street, name = GAZETTEER.get(code, (code.split(".", 1)[0], f"社区 {code}"))
        event = CommunityUpserted(code=code, street_code=street, name_zh=name, lat=39.73, lng=116.15, version=1)
        handler = communities_subscription.handler_for(event.type)
        assert handler is not None
        await apply_event(sessionmaker, "test-communities", handler, Envelope.wrap(event, source="registry"))


@pytest.fixture
async def gazetteer(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Booking knows the gazetteer's communities the tests name (as once the registry has announced them)."""
    await make_communities_known(sessionmaker)
