"""Amendments (补充协议) and terminations of signed contracts: proposed by one party, effective only when the
other approves (契约精神)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from procurement.models import Base
from service_kit.db import IdMixin, TimestampMixin


class ChangeKind(StrEnum):
    amendment = "amendment"
    termination = "termination"


class ChangeStatus(StrEnum):
    proposed = "proposed"
    approved = "approved"  # in effect: the other party approved (or the purchaser terminated for cause)
    rejected = "rejected"  # refused by the other party
    withdrawn = "withdrawn"  # taken back by the proposing party


class Party(StrEnum):
    purchaser = "purchaser"  # the district (officials)
    provider = "provider"  # the contracted provider (its admins)


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(
        cls, native_enum=False, create_constraint=False, length=16, values_callable=lambda s: [m.value for m in s]
    )


class ContractAmendment(IdMixin, TimestampMixin, Base):
    __tablename__ = "contract_amendment"
    __table_args__ = (
        CheckConstraint("supplement_fen >= 0", name="supplement_not_negative"),
        CheckConstraint("reduction_fen >= 0", name="reduction_not_negative"),
        CheckConstraint("supplement_fen = 0 OR reduction_fen = 0", name="supplement_or_reduction"),
    )

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contract.id"), index=True)
    kind: Mapped[ChangeKind] = mapped_column(_enum(ChangeKind))
    status: Mapped[ChangeStatus] = mapped_column(_enum(ChangeStatus), index=True)
    # What changes and why, in the proposer's words.
    summary: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    # An amendment's changes: a supplementary amount or a reduction of the amount (a settlement, 结算), a new end
    # date, new funded offerings (each optional).
    supplement_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    reduction_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    new_end_date: Mapped[date | None]
    new_funded_offerings: Mapped[list[Any] | None]
    # A termination the purchaser imposed for cause, without the provider's approval.
    for_cause: Mapped[bool] = mapped_column(default=False)
    proposed_by_party: Mapped[Party] = mapped_column(_enum(Party))
    proposed_by: Mapped[str] = mapped_column(String(200))
    proposed_by_name: Mapped[str | None] = mapped_column(String(200))
    proposed_at: Mapped[datetime]
    decided_by_party: Mapped[Party | None] = mapped_column(_enum(Party))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)
    # The contract version the approved amendment produced.
    resulting_version: Mapped[int | None] = mapped_column(Integer)
