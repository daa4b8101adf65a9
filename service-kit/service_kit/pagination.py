"""Limit/offset pagination for every list endpoint: ``page: PaginationDep`` in, ``Page[X]`` out."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

MAX_LIMIT = 200
# Deep offsets are refused: a client paging that far wants a filter, and a bounded offset keeps queries cheap.
MAX_OFFSET = 100_000


@dataclass(frozen=True)
class Pagination:
    limit: int
    offset: int

    def of(self, items: Sequence[T], total: int) -> "Page[T]":
        """The page of ``items`` (this page's) out of ``total``."""
        return Page(items=list(items), total=total, limit=self.limit, offset=self.offset)


async def pagination(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip")] = 0,
) -> Pagination:
    return Pagination(limit=limit, offset=offset)


PaginationDep = Annotated[Pagination, Depends(pagination)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


async def fetch_page(session: AsyncSession, query: Select[T], *, limit: int, offset: int) -> tuple[Sequence[T], int]:
    """One page of ``query`` (filtered and ordered, with a unique tie-break last) and how many rows it has in all."""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = await session.scalars(query.limit(limit).offset(offset))
    return rows.all(), int(total or 0)
