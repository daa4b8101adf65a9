"""The guarded UPDATE every procurement repository uses: change a row only WHERE the rule still holds.

Two officials acting at once (approving the last of a budget, deciding the same proposal, paying the same
installment) both read the row as it was; the guard in the UPDATE's WHERE clause lets one of them through, and the
other learns it changed nothing."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase


async def update_if(
    session: AsyncSession, model: type[DeclarativeBase], *where: Any, keep_session: bool = False, **values: Any
) -> bool:
    """UPDATE the one row of ``model`` that ``where`` picks, if it still matches; whether it did.

    ``keep_session`` leaves the session's copies of the row as they were (``synchronize_session=False``), for
    callers that re-read it anyway."""
    statement = update(model).where(*where).values(**values)
    if keep_session:
        statement = statement.execution_options(synchronize_session=False)
    return cast(CursorResult[Any], await session.execute(statement)).rowcount == 1


async def move_if(
    session: AsyncSession, model: Any, row_id: uuid.UUID, from_status: Any, *, keep_session: bool = False, **values: Any
) -> bool:
    """UPDATE the row ``row_id`` of ``model`` (a table with ``id`` and ``status``) if it is still ``from_status``;
    whether it was."""
    return await update_if(
        session, model, model.id == row_id, model.status == from_status, keep_session=keep_session, **values
    )
