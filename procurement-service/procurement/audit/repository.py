"""Every SQL statement about the audit trail: its entries, and the street of an audited record (for a
street-scoped official's reading of the trail)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.audit.models import AuditEntry
from procurement.calls.models import Application, Call
from procurement.contracts.models import Contract
from procurement.history.models import HistoricalProject
from procurement.needs.models import Need
from procurement.notices.models import Notice
from procurement.sanctions.models import ProviderSanction
from service_kit.pagination import fetch_page


async def add(session: AsyncSession, entry: AuditEntry) -> None:
    session.add(entry)
    await session.flush()


async def entries_page(
    session: AsyncSession, subject_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[AuditEntry], int]:
    """A page of the record's audit trail, in the order it was written."""
    query = select(AuditEntry).where(AuditEntry.subject_id == subject_id).order_by(AuditEntry.seq)
    return await fetch_page(session, query, limit=limit, offset=offset)


def _street_query(kind: str, subject_id: uuid.UUID) -> Select[Any] | None:
    """The query of the street a record of ``kind`` belongs to; None for a kind of no street (the district's)."""
    if kind == "need":
        return select(Need.street_code).where(Need.id == subject_id)
    if kind == "call":
        return select(Call.street_code).where(Call.id == subject_id)
    if kind == "application":
        return (
            select(Call.street_code)
            .join(Application, Application.call_id == Call.id)
            .where(Application.id == subject_id)
        )
    if kind == "notice":
        return select(Call.street_code).join(Notice, Notice.call_id == Call.id).where(Notice.id == subject_id)
    if kind == "contract":
        return select(Contract.street_code).where(Contract.id == subject_id)
    if kind == "sanction":
        return (
            select(Contract.street_code)
            .join(ProviderSanction, ProviderSanction.contract_id == Contract.id)
            .where(ProviderSanction.id == subject_id)
        )
    if kind == "historical_project":
        return select(HistoricalProject.street_code).where(HistoricalProject.id == subject_id)
    return None


async def kind_of(session: AsyncSession, subject_id: uuid.UUID) -> str | None:
    """The kind of record the trail of ``subject_id`` is about; None when nothing was recorded of it."""
    return await session.scalar(select(AuditEntry.subject_kind).where(AuditEntry.subject_id == subject_id).limit(1))


async def street_of(session: AsyncSession, kind: str, subject_id: uuid.UUID) -> str | None:
    """The street the audited record belongs to; None: the district's."""
    query = _street_query(kind, subject_id)
    return await session.scalar(query) if query is not None else None
