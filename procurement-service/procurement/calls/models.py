"""Calls for proposals (项目征集) and the applications (申报) providers submit to them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from procurement.models import Base
from service_kit.db import IdMixin, TimestampMixin


class CallStatus(StrEnum):
    draft = "draft"
    published = "published"  # open for applications until the deadline; public
    closed = "closed"  # no more applications; reviewers score
    reviewed = "reviewed"  # the review is closed: scores aggregated, applications ranked


class ApplicationStatus(StrEnum):
    submitted = "submitted"
    withdrawn = "withdrawn"
    approved = "approved"  # 立项


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(
        cls, native_enum=False, create_constraint=False, length=16, values_callable=lambda s: [m.value for m in s]
    )


class Call(IdMixin, TimestampMixin, Base):
    __tablename__ = "proposal_call"
    __table_args__ = (CheckConstraint("budget_cap_fen > 0", name="budget_cap_positive"),)

    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    directions: Mapped[list[Any]]
    budget_cap_fen: Mapped[int] = mapped_column(BigInteger)
    fund_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fund.id"), index=True)
    need_ids: Mapped[list[Any]]
    eligible_kinds: Mapped[list[Any]]
    # [{"code", "name", "weight"}], weights summing to 100.
    criteria: Mapped[list[Any]]
    deadline: Mapped[datetime]
    # The street the call serves (the registry's street code): a street-scoped official's calls are their
    # street's; None: the district's.
    street_code: Mapped[str | None] = mapped_column(String(40), index=True)
    status: Mapped[CallStatus] = mapped_column(_enum(CallStatus), index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    reviewed_at: Mapped[datetime | None]


class Application(IdMixin, TimestampMixin, Base):
    __tablename__ = "application"
    __table_args__ = (CheckConstraint("budget_request_fen > 0", name="budget_request_positive"),)

    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("proposal_call.id"), index=True)
    provider_id: Mapped[uuid.UUID] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(String(200))
    proposal: Mapped[str] = mapped_column(Text)
    budget_request_fen: Mapped[int] = mapped_column(BigInteger)
    deliverables: Mapped[list[Any]]
    kpis: Mapped[list[Any]]
    status: Mapped[ApplicationStatus] = mapped_column(_enum(ApplicationStatus), index=True)
    submitted_by: Mapped[str] = mapped_column(String(200))
    submitted_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    # The aggregate review score in hundredths of a point (0–10000) and the rank, set when the review closes.
    score_centi: Mapped[int | None] = mapped_column(Integer)
    reviewer_count: Mapped[int | None] = mapped_column(Integer)
    rank: Mapped[int | None] = mapped_column(Integer)
    approved_amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(200))
