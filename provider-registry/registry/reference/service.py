"""Announcing the reference data other services keep copies of: the taxonomy (categories) and the gazetteer
(communities, service centers).

Feedback refuses a need in a category or community it does not know, and a complaint about a center it does not
know; booking will refuse a resident's unknown community. They learn these facts only from events
(``category.upserted``, ``community.upserted``, ``service_center.upserted``, in ``service_kit.events.contracts``):

- **On every change.** Creating or changing a row gives it its next ``version`` and emits its event in the same
  transaction (the outbox), marking it announced at that version.
- **Once for what was never announced.** Rows seeded by migrations, and every row of a database older than these
  events, have ``announced_version`` behind ``version``. The ``announce_reference_data`` job (in the API process or
  the worker) announces them at start, then looks again every ``reference_announce_seconds``. Each row's
  announcement is claimed by a guarded update (``WHERE version = v AND announced_version < v``): with several
  replicas exactly one emits it, and a row changed meanwhile is left to the change's own event.
- **Again, on demand.** A consumer added after the events left the stream (JetStream keeps 30 days) is served by
  ``POST /api/v1/ops/registry/reference-data/announce`` (admin): every row is announced once more. Consumers keep
  the highest version they saw, so an announcement they already had changes nothing.
"""

from typing import cast

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from registry.categories.models import Category
from registry.config import Settings
from registry.places.models import Community
from registry.reference import repository
from registry.reference.repository import ANNOUNCED, AnnouncedRow
from service_kit.events.contracts import CategoryUpserted, CommunityUpserted, ReferenceData, ServiceCenterUpserted
from service_kit.events.outbox import emit
from service_kit.runtime import Runtime

log = structlog.get_logger("linli.registry.reference")

ANNOUNCE_BATCH = 200


def event_of(row: AnnouncedRow, version: int | None = None) -> ReferenceData:
    """The row's ``*.upserted`` event, at ``version`` (default: the row's)."""
    version = row.version if version is None else version
    if isinstance(row, Category):
        return CategoryUpserted(
            code=row.code, parent_code=row.parent_code, name_zh=row.name_zh, name_en=row.name_en, version=version
        )
    if isinstance(row, Community):
        return CommunityUpserted(
            code=row.code,
            street_code=row.street_code,
            name_zh=row.name_zh,
            name_en=row.name_en,
            lat=row.lat,
            lng=row.lng,
            version=version,
        )
    return ServiceCenterUpserted(
        center_id=row.id,
        name_zh=row.name_zh,
        name_en=row.name_en,
        operator_id=row.operator_id,
        communities=tuple(row.communities),
        version=version,
    )


# A new row is announced by the transaction that inserts it: ``Community(**data, **ANNOUNCED_AT_FIRST_VERSION)``.
ANNOUNCED_AT_FIRST_VERSION = {"version": 1, "announced_version": 1}


async def created(session: AsyncSession, row: AnnouncedRow) -> None:
    """Announce a row this transaction inserted (with ``ANNOUNCED_AT_FIRST_VERSION``) and flushed."""
    await emit(session, event_of(row))


async def changed(session: AsyncSession, row: AnnouncedRow) -> None:
    """Announce a row whose change this transaction has flushed, at its next version."""
    version = await repository.next_version(session, row)
    await emit(session, event_of(row, version))
    await session.refresh(row, attribute_names=["version", "announced_version"])


async def announce_pending(session: AsyncSession, *, limit: int = ANNOUNCE_BATCH) -> int:
    """Emit the event of every row not announced at its current version (at most ``limit`` of each kind).
    Returns the number of events."""
    announced = 0
    for model in ANNOUNCED:
        for row in await repository.unannounced(session, model, limit=limit):
            if await repository.claim_announcement(session, row):
                await emit(session, event_of(row))
                announced += 1
    return announced


async def announce_everything(session: AsyncSession) -> dict[str, int]:
    """Announce every row again (for a consumer that missed the first announcements), in this transaction."""
    await repository.forget_announcements(session)
    counts: dict[str, int] = {}
    for model in ANNOUNCED:
        counts[model.__tablename__] = 0
        while rows := await repository.unannounced(session, model, limit=ANNOUNCE_BATCH):
            for row in rows:
                if await repository.claim_announcement(session, row):
                    await emit(session, event_of(row))
                    counts[model.__tablename__] += 1
    return counts


async def announce_reference_data(runtime: Runtime) -> None:
    """The background job: announce what was never announced, then look again after a while."""
    settings = cast(Settings, runtime.settings)
    while runtime.running:
        async with runtime.read_sessionmaker() as session:
            pending = await repository.any_unannounced(session)
        if pending:
            async with runtime.sessionmaker() as session, session.begin():
                count = await announce_pending(session)
            if count:
                runtime.wake_relay()
                log.info("reference data announced", events=count)
                continue  # there may be more than one batch
        await runtime.sleep(settings.reference_announce_seconds)
