"""Disbursements (资金拨付): one payment per installment of a contract's plan, each with its voucher."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from procurement.models import Base
from service_kit.db import IdMixin, TimestampMixin


class Disbursement(IdMixin, TimestampMixin, Base):
    __tablename__ = "disbursement"
    __table_args__ = (
        # An installment is paid once, however many officials press "pay" at the same moment.
        UniqueConstraint("contract_id", "installment_seq"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contract.id"), index=True)
    installment_seq: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    # The accounting voucher (记账凭证号), unique across the district's books.
    voucher_number: Mapped[str] = mapped_column(String(64), unique=True)
    payer: Mapped[str] = mapped_column(String(200))
    payee: Mapped[str] = mapped_column(String(200))
    paid_on: Mapped[date]
    # The fund paid from, when the contract came through a call for proposals.
    fund_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("fund.id"), index=True)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime]
