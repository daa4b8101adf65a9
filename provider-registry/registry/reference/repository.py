"""Every SQL statement of the reference-data announcements."""

from typing import Any, cast

from sqlalchemy import CursorResult, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.categories.models import Category
from registry.places.models import Community, ServiceCenter

AnnouncedRow = Category | Community | ServiceCenter
ANNOUNCED: tuple[type[Category], type[Community], type[ServiceCenter]] = (Category, Community, ServiceCenter)


def _key(model: type[AnnouncedRow]) -> Any:
    return Category.code if model is Category else Community.code if model is Community else ServiceCenter.id


def _key_of(row: AnnouncedRow) -> object:
    return row.id if isinstance(row, ServiceCenter) else row.code


def _unchanged_timestamp(model: type[AnnouncedRow]) -> dict[str, Any]:
    """An announcement is no change of the row: ``updated_at`` keeps its value (instead of its ``onupdate``)."""
    columns = model.__table__.c
    return {"updated_at": columns.updated_at} if "updated_at" in columns else {}


async def any_unannounced(session: AsyncSession) -> bool:
    """Whether some row waits for its announcement (a read: no write lock taken when there is none)."""
    for model in ANNOUNCED:
        if await session.scalar(select(exists().where(model.announced_version < model.version))):
            return True
    return False


async def unannounced(session: AsyncSession, model: type[AnnouncedRow], *, limit: int) -> list[AnnouncedRow]:
    rows = await session.scalars(
        select(model).where(model.announced_version < model.version).order_by(_key(model)).limit(limit)
    )
    return cast(list[AnnouncedRow], list(rows.all()))


async def claim_announcement(session: AsyncSession, row: AnnouncedRow) -> bool:
    """Mark ``row`` announced at the version it was read at, unless it changed since or another replica
    announced it first: of several racing announcers exactly one gets True (and emits)."""
    model = type(row)
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(model)
            .where(
                _key(model) == _key_of(row),
                model.version == row.version,
                model.announced_version < row.version,
            )
            .values(announced_version=row.version, **_unchanged_timestamp(model))
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount == 1


async def next_version(session: AsyncSession, row: AnnouncedRow) -> int:
    """Give a changed row its next version, announced in this transaction. The increment is the database's
    (``version = version + 1``), so two concurrent changes of one row get two versions."""
    model = type(row)
    result = await session.execute(
        update(model)
        .where(_key(model) == _key_of(row))
        .values(version=model.version + 1, announced_version=model.version + 1, **_unchanged_timestamp(model))
        .returning(model.version)
        .execution_options(synchronize_session=False)
    )
    return int(result.scalar_one())


async def forget_announcements(session: AsyncSession) -> None:
    """Mark every row unannounced, so the next pass announces all of them again."""
    for model in ANNOUNCED:
        await session.execute(
            update(model)
            .values(announced_version=0, **_unchanged_timestamp(model))
            .execution_options(synchronize_session=False)
        )
