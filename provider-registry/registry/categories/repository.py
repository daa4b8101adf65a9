from collections.abc import Sequence

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.categories.models import Category


async def list_all(session: AsyncSession) -> Sequence[Category]:
    rows = await session.scalars(select(Category).order_by(Category.position, Category.code))
    return rows.all()


async def get(session: AsyncSession, code: str) -> Category | None:
    return await session.get(Category, code)


async def has_children(session: AsyncSession, code: str) -> bool:
    return bool(await session.scalar(select(exists().where(Category.parent_code == code))))
