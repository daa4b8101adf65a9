"""Funds the district buys services from (e.g. 2026年社区服务专项资金): budget, what is committed, what is paid."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from procurement.models import Base
from service_kit.db import IdMixin, TimestampMixin


class Fund(IdMixin, TimestampMixin, Base):
    __tablename__ = "fund"
    __table_args__ = (
        CheckConstraint("budget_fen > 0", name="budget_positive"),
        # The last line of defence behind the guarded update in funds.service.commit.
        CheckConstraint("committed_fen >= 0 AND committed_fen <= budget_fen", name="committed_within_budget"),
        # Paid out only what was committed: spent + still committed + uncommitted = the budget.
        CheckConstraint("spent_fen >= 0 AND spent_fen <= committed_fen", name="spent_within_committed"),
    )

    name: Mapped[str] = mapped_column(String(200))
    # The organization that owns the budget and pays from it (the payer of every disbursement from the fund).
    owner_id: Mapped[str] = mapped_column(String(64))
    owner_name: Mapped[str] = mapped_column(String(200))
    year: Mapped[int] = mapped_column(Integer)
    budget_fen: Mapped[int] = mapped_column(BigInteger)
    # What the fund's awards commit: approved applications (立项), approved direct awards and approved
    # supplements, less what terminated contracts give back; kept by one guarded UPDATE per change.
    committed_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    # The sum of the disbursements (资金拨付) paid from the fund's contracts; part of what is committed.
    spent_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_by: Mapped[str] = mapped_column(String(200))
