"""Contracts the district signs with providers, the offerings each one funds, and the audit trail of every change."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from procurement.models import Base
from service_kit.db import IdMixin, TimestampMixin


class ContractStatus(StrEnum):
    draft = "draft"
    active = "active"
    terminated = "terminated"


class ProcurementMethod(StrEnum):
    """How the contract was procured: from a call for proposals (competitive, OCDS ``open``) or awarded directly
    (直接委托, OCDS ``direct``) with a recorded legal rationale a second official approved."""

    open = "open"
    direct = "direct"


class AwardStatus(StrEnum):
    """The award a contract carries out. A competitive contract's is its approved application (立项); a direct
    award is proposed by one official and approved (or rejected) by another (four eyes)."""

    proposed = "proposed"
    approved = "approved"
    rejected = "rejected"
    # A contract drafted before procurement methods were recorded, with neither a call nor an approved direct
    # award: it is never signed, and without a fund never paid.
    unapproved = "unapproved"


class InstallmentCondition(StrEnum):
    """When an installment of the payment plan (资金拨付) falls due."""

    on_signing = "on_signing"
    after_midterm_evaluation = "after_midterm_evaluation"
    after_acceptance = "after_acceptance"  # the acceptance (验收) has passed


def _status_column(enum: type[StrEnum] = ContractStatus, length: int = 16) -> Enum:
    # Stored as the plain value in a VARCHAR: readable in SQL, portable, no native ENUM type to migrate.
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda statuses: [s.value for s in statuses],
    )


class Contract(IdMixin, TimestampMixin, Base):
    __tablename__ = "contract"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("end_date >= start_date", name="term_ordered"),
        # Supplements (补充协议) add at most a tenth of the original amount
        # (amount_fen - supplement_fen + reduction_fen); reductions never make it negative.
        CheckConstraint(
            "supplement_fen >= 0 AND supplement_fen * 10 <= amount_fen - supplement_fen + reduction_fen",
            name="supplement_within_tenth",
        ),
        CheckConstraint("reduction_fen >= 0", name="reduction_not_negative"),
        CheckConstraint("disbursed_fen >= 0 AND disbursed_fen <= amount_fen", name="disbursed_within_amount"),
        CheckConstraint("kept_fen >= 0", name="kept_within_unpaid"),
    )

    title: Mapped[str] = mapped_column(String(200))
    provider_id: Mapped[uuid.UUID] = mapped_column(index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    start_date: Mapped[date]
    end_date: Mapped[date]
    stable_service: Mapped[bool] = mapped_column(default=False)
    status: Mapped[ContractStatus] = mapped_column(_status_column(), index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    # Both parties sign (双方签署): each signature records who and when. The contract becomes signed (active)
    # with the second signature, whichever party gives it: ``signed_at``/``signed_by`` are that moment and signer.
    purchaser_signed_at: Mapped[datetime | None]
    purchaser_signed_by: Mapped[str | None] = mapped_column(String(200))
    provider_signed_at: Mapped[datetime | None]
    provider_signed_by: Mapped[str | None] = mapped_column(String(200))
    signed_at: Mapped[datetime | None]
    signed_by: Mapped[str | None] = mapped_column(String(200))
    terminated_at: Mapped[datetime | None]
    terminated_by: Mapped[str | None] = mapped_column(String(200))
    termination_reason: Mapped[str | None] = mapped_column(Text)
    # The approved application (立项) the contract was drawn from, when it came through a call for proposals.
    application_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("application.id"), unique=True)
    procurement_method: Mapped[ProcurementMethod] = mapped_column(_status_column(ProcurementMethod))
    # The fund the contract draws on: its call's, or the one the direct award names. NULL only for contracts
    # drafted before funds were recorded on contracts without a call (never signed or paid since).
    fund_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("fund.id"), index=True)
    # A direct award's legal rationale (e.g. 单一来源: the only provider of the service in the area).
    rationale: Mapped[str | None] = mapped_column(Text)
    # The street the contract serves: its call's, or the one its direct award names; None: the district's.
    street_code: Mapped[str | None] = mapped_column(String(40), index=True)
    award_status: Mapped[AwardStatus] = mapped_column(_status_column(AwardStatus))
    award_decided_by: Mapped[str | None] = mapped_column(String(200))
    award_decided_at: Mapped[datetime | None]
    award_decision_reason: Mapped[str | None] = mapped_column(Text)
    # ``amount_fen`` includes the approved supplements and excludes the approved reductions (settlements that
    # lowered it); the original amount is ``amount_fen - supplement_fen + reduction_fen``.
    supplement_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    reduction_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    disbursed_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # After a termination: what stays committed for the residents' bookings that keep the contract's subsidy
    # (procurement.kept). Until booking-service reports them (``kept_reported_at``) it is the whole unpaid rest.
    kept_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    kept_reported_at: Mapped[datetime | None]
    # Installments are paid in order; this many of the plan's first installments are paid.
    paid_installments: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # 1 when signed; each amendment both parties approved adds one (see ContractVersion).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    funded_offerings: Mapped[list[ContractFundedOffering]] = relationship(
        lazy="raise", order_by="ContractFundedOffering.position", cascade="all, delete-orphan"
    )
    installments: Mapped[list[ContractInstallment]] = relationship(
        lazy="raise", order_by="ContractInstallment.seq", cascade="all, delete-orphan"
    )
    targets: Mapped[list[ContractTarget]] = relationship(
        lazy="raise", order_by="ContractTarget.position", cascade="all, delete-orphan"
    )


class ContractInstallment(IdMixin, Base):
    """One installment of a contract's payment plan: ``amount_fen`` paid once ``condition`` is met."""

    __tablename__ = "contract_installment"
    __table_args__ = (
        UniqueConstraint("contract_id", "seq"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contract.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    condition: Mapped[InstallmentCondition] = mapped_column(_status_column(InstallmentCondition, 32))
    amount_fen: Mapped[int] = mapped_column(BigInteger)


class ContractVersion(IdMixin, Base):
    """The terms of a contract as they stood from ``effective_at``: version 1 when signed, one more per
    amendment both parties approved."""

    __tablename__ = "contract_version"
    __table_args__ = (UniqueConstraint("contract_id", "version"),)

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contract.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    amendment_id: Mapped[uuid.UUID | None]
    effective_at: Mapped[datetime]
    terms: Mapped[dict[str, Any]]


class ContractFundedOffering(IdMixin, Base):
    """An offering a contract pays for: ``quota`` services at ``unit_price_fen`` each, of which an eligible
    resident pays ``resident_price_fen``."""

    __tablename__ = "contract_funded_offering"
    __table_args__ = (
        UniqueConstraint("contract_id", "offering_id"),
        CheckConstraint("unit_price_fen >= 0", name="unit_price_not_negative"),
        CheckConstraint("resident_price_fen >= 0 AND resident_price_fen <= unit_price_fen", name="resident_price"),
        CheckConstraint("quota >= 1", name="quota_positive"),
    )

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contract.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    offering_id: Mapped[uuid.UUID] = mapped_column(index=True)
    unit_price_fen: Mapped[int] = mapped_column(BigInteger)
    resident_price_fen: Mapped[int] = mapped_column(BigInteger)
    quota: Mapped[int] = mapped_column(Integer)
    eligibility_tags: Mapped[list[Any]]


class ContractTarget(IdMixin, Base):
    """What the contract promises to achieve (绩效目标): the winning application's KPIs, or what the official
    stated when proposing a direct award. A target naming an offering and a quantity is measured: the verified
    deliverables of that offering against it (the quantity part of the evaluation); the others are stated."""

    __tablename__ = "contract_target"
    __table_args__ = (
        UniqueConstraint("contract_id", "position"),
        CheckConstraint("quantity IS NULL OR quantity >= 1", name="quantity_positive"),
        CheckConstraint("(offering_id IS NULL) = (quantity IS NULL)", name="measured_names_both"),
    )

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contract.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(200))
    offering_id: Mapped[uuid.UUID | None]
    quantity: Mapped[int | None] = mapped_column(Integer)


class ContractAuditEntry(Base):
    """Who changed a contract, when, and what it looked like before and after: the auditors' record."""

    __tablename__ = "contract_audit_entry"
    __table_args__ = (Index("ix_contract_audit_entry_contract_id_seq", "contract_id", "seq"),)

    # SQLite autoincrements only an INTEGER primary key.
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contract.id"))
    action: Mapped[str] = mapped_column(String(32))
    actor_subject: Mapped[str] = mapped_column(String(200))
    actor_name: Mapped[str | None] = mapped_column(String(200))
    actor_roles: Mapped[list[Any]]
    occurred_at: Mapped[datetime]
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any]]
    reason: Mapped[str | None] = mapped_column(Text)
