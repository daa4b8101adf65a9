"""The OCDS 1.1 export: every public change of a contracting process becomes one release.

A contracting process is a published call for proposals (its approved applications are the awards, their
contracts the contracts) or a contract signed without a call (a direct award). Releases are derived from the
audit trails the lifecycle modules write (who changed what, when), so each has a stable ``id`` and ``date``;
a release carries the sections its change touched, and a record compiles them by the OCDS merge rules.

A contract's ``items`` are the offerings it funds (quota and unit price) and its targets (绩效目标, ``target-N``):
a measured target carries its offering (``classification``, the id of the offering's item and of its delivery
milestone) and the quantity promised; the delivery milestones say how many of them were delivered.

Nothing personal is published: no actor of the audit trail, no objection filer, no resident.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import ocdsmerge
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.amendments.models import ContractAmendment
from procurement.audit.models import AuditEntry
from procurement.calls.models import Application, Call
from procurement.contracts.models import Contract, ContractAuditEntry
from procurement.funds.models import Fund
from procurement.notices.masking import mask_text
from procurement.notices.models import Notice
from procurement.opendata import repository
from procurement.opendata.config import OcdsSettings
from procurement.providers.models import ProviderStanding
from service_kit.documents import ACCEPTANCE_REPORT, CALL_DOCUMENT, NOTICE_DOCUMENT
from service_kit.errors import NotFound
from service_kit.timeutil import SHANGHAI, as_aware

OCDS_VERSION = "1.1"
CURRENCY = "CNY"

DIRECTION_NAMES = {
    "special_groups": "特殊群体帮扶",
    "volunteer_services": "志愿服务",
    "cultural_heritage": "文化传承",
    "psychological_counseling": "心理疏导",
    "elderly_care": "养老服务",
    "children": "儿童关爱",
    "green_living": "绿色环保",
    "community_governance": "社区治理",
}
KIND_NAMES = {"public_welfare": "公益性社会组织", "commercial": "商业性组织", "startup": "创业型组织"}
INSTALLMENT_CONDITIONS = {
    "on_signing": "合同签订后拨付",
    "after_midterm_evaluation": "中期评估后拨付",
    "after_acceptance": "验收合格后拨付",
}
EVALUATION_STAGES = {"midterm": "中期评估", "final": "终期评估"}
KEPT_SETTLEMENT_TITLE = "合同终止后，居民保留预约的服务交付结算"
ACCEPTANCE_RESULTS = {
    "passed": ("met", "验收通过"),
    "conditional": ("partiallyMet", "限期整改后复验"),
    "failed": ("notMet", "验收不通过"),
}


# ---------------------------------------------------------------- small conversions


def money(fen: int) -> dict[str, Any]:
    """An OCDS Value in yuan; whole yuan stay integers so no float rounding shows."""
    return {"amount": fen // 100 if fen % 100 == 0 else round(fen / 100, 2), "currency": CURRENCY}


def stamp(moment: datetime) -> str:
    return as_aware(moment).astimezone(SHANGHAI).isoformat()


def day_start(day: date) -> str:
    return datetime.combine(day, time.min, SHANGHAI).isoformat()


def day_end(day: date) -> str:
    return datetime.combine(day, time(23, 59, 59), SHANGHAI).isoformat()


def ocid_of(settings: OcdsSettings, process_id: uuid.UUID) -> str:
    return f"{settings.ocid_prefix}-{process_id}"


def process_id_of(settings: OcdsSettings, ocid: str) -> uuid.UUID:
    """The process an ocid names, under the current prefix or a former one (old links keep answering)."""
    for prefix in (settings.ocid_prefix, *settings.former_ocid_prefixes):
        if ocid.startswith(prefix + "-"):
            try:
                return uuid.UUID(ocid.removeprefix(prefix + "-"))
            except ValueError:
                break
    raise NotFound("No contracting process has this ocid.", code="ocid_not_found")


# ---------------------------------------------------------------- releases


@dataclass
class Change:
    """One public change of a process: when, which record it comes from, its tags and what it touched."""

    at: datetime
    # Where the change is recorded: ``a`` the sourcing audit trail, ``c`` the contracts' audit trail (both by
    # sequence number); ``d`` a disbursement, ``e`` an evaluation, ``k`` an acceptance (by their id).
    source: str
    ident: int | str
    tag: list[str]
    sections: dict[str, Any]
    suppliers: set[uuid.UUID] = field(default_factory=set)
    # Providers named as tenderers (who applied), and what the change adds to a provider party's ``details``.
    tenderers: set[uuid.UUID] = field(default_factory=set)
    party_details: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.source}{self.ident}"

    @property
    def order(self) -> tuple[datetime, str, int, str]:
        seq = self.ident if isinstance(self.ident, int) else 0
        return as_aware(self.at), self.source, seq, str(self.ident)


@dataclass
class Context:
    settings: OcdsSettings
    base_url: str
    providers: dict[uuid.UUID, ProviderStanding]
    # Names as the public notice announced them, which win over the registry's later renames.
    announced_names: dict[uuid.UUID, str] = field(default_factory=dict)
    # Who pays the process's contracts: the owner of the fund they draw on (the buyer when none is recorded).
    fund: Fund | None = None
    # Who tendered (applied and had not withdrawn when the call closed): their parties carry the tenderer role.
    tenderers: set[uuid.UUID] = field(default_factory=set)

    @property
    def buyer(self) -> dict[str, Any]:
        return {"id": self.settings.buyer_id, "name": self.settings.buyer_name}

    @property
    def payer(self) -> dict[str, Any]:
        if self.fund is None:
            return self.buyer
        return {"id": self.fund.owner_id, "name": self.fund.owner_name}

    def organizations(self) -> list[dict[str, Any]]:
        """The buyer and the payer as parties: one party when the buyer pays from its own fund."""
        buyer, payer = self.buyer, self.payer
        if payer["id"] == buyer["id"]:
            return [{**buyer, "roles": ["buyer", "procuringEntity", "payer"]}]
        return [{**buyer, "roles": ["buyer", "procuringEntity"]}, {**payer, "roles": ["payer"]}]

    def supplier_name(self, provider_id: uuid.UUID) -> str:
        known = self.providers.get(provider_id)
        return self.announced_names.get(provider_id) or (known.name if known and known.name else str(provider_id))

    def supplier(self, provider_id: uuid.UUID) -> dict[str, Any]:
        return {"id": str(provider_id), "name": self.supplier_name(provider_id)}

    def provider_party(
        self, provider_id: uuid.UUID, *, supplier: bool, paid: bool, details: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A provider as a party: tenderer once it tendered, supplier once awarded, payee once paid."""
        roles = ["tenderer"] if provider_id in self.tenderers else []
        roles += ["supplier"] if supplier else []
        roles += ["payee"] if supplier and paid else []
        party: dict[str, Any] = {**self.supplier(provider_id), "roles": roles}
        known = self.providers.get(provider_id)
        party_details = dict(details or {})
        if known is not None and known.kind:
            party_details.update(kind=known.kind, kindName=KIND_NAMES.get(known.kind, known.kind))
        if party_details:
            party["details"] = party_details
        return party

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


def release(ocid: str, change: Change, ctx: Context, *, paid: set[uuid.UUID]) -> dict[str, Any]:
    """The release of one change; a supplier is a payee once the district has paid it (so far, not later)."""
    parties = ctx.organizations()
    parties += [
        ctx.provider_party(p, supplier=p in change.suppliers, paid=p in paid, details=change.party_details.get(p))
        for p in sorted(change.suppliers | change.tenderers, key=str)
    ]
    return {
        "ocid": ocid,
        "id": f"{ocid}-{change.key}",
        "date": stamp(change.at),
        "tag": change.tag,
        "initiationType": "tender",
        "language": "zh",
        "buyer": ctx.buyer,
        "parties": parties,
        **change.sections,
    }


def _tender_published(call: Call, fund_budget: dict[str, Any] | None, entry: AuditEntry, ctx: Context) -> Change:
    criteria = "；".join(f"{c['name']}（{c['code']}）权重{c['weight']}%" for c in call.criteria)
    kinds = [KIND_NAMES.get(k, k) for k in call.eligible_kinds]
    tender: dict[str, Any] = {
        "id": str(call.id),
        "title": call.title,
        "description": call.description,
        "status": "active",
        "procuringEntity": ctx.buyer,
        "items": [
            {"id": direction, "description": DIRECTION_NAMES.get(direction, direction)} for direction in call.directions
        ],
        # The most one application may request (申报预算上限).
        "value": money(call.budget_cap_fen),
        "procurementMethod": "open",
        "procurementMethodDetails": "政府购买服务项目公开征集",
        "mainProcurementCategory": "services",
        "awardCriteria": "ratedCriteria",
        "awardCriteriaDetails": f"专家按以下标准评分，加权汇总：{criteria}",
        "submissionMethod": ["electronicSubmission"],
        "eligibilityCriteria": (
            f"已认证且未受处罚的服务机构；机构类型：{'、'.join(kinds)}" if kinds else "已认证且未受处罚的服务机构"
        ),
        "tenderPeriod": {"startDate": stamp(entry.occurred_at), "endDate": stamp(call.deadline)},
    }
    sections: dict[str, Any] = {"tender": tender}
    if fund_budget is not None:
        sections["planning"] = {"budget": fund_budget}
    return Change(entry.occurred_at, "a", entry.seq, ["planning", "tender"], sections)


def _call_documents(call: Call, documents: dict[str, list[Any]], changes: list[Change], ctx: Context) -> list[Change]:
    """A call's documents as OCDS tender documents: those attached before it was published in its publication,
    each one attached later in a release of its own (``tenderUpdate``). None while the call is unpublished."""
    published = next((c for c in changes if "tender" in c.tag), None)
    return _attached(call, documents.get(str(call.id), []), published, "tenderNotice", ctx)


def _notice_documents(
    call: Call, notice: Notice | None, rows: list[Any], changes: list[Change], ctx: Context
) -> list[Change]:
    """A notice's documents (公示附件) as OCDS award notices beside the notice itself: in the award release when
    attached by then, each one attached later in a release of its own."""
    published = next((c for c in changes if "award" in c.tag), None) if notice is not None else None
    return _attached(call, rows, published, "awardNotice", ctx)


def _attached(call: Call, rows: list[Any], published: Change | None, document_type: str, ctx: Context) -> list[Change]:
    """Documents of a published record (``published``: the release that made it public) as OCDS tender documents,
    each at its public URL (from configuration, as every link here): those attached before it in that release,
    each one attached later in a ``tenderUpdate`` of its own. None before the record is published."""
    if published is None:
        return []
    later = []
    for row in rows:
        document = {
            "id": str(row["id"]),
            "documentType": document_type,
            "title": row["filename"],
            "url": ctx.url(f"/api/v1/documents/procurement/{row['id']}"),
            "datePublished": stamp(max(as_aware(row["created_at"]), as_aware(published.at))),
            "format": row["media_type"],
            "language": "zh",
        }
        if as_aware(row["created_at"]) <= as_aware(published.at):
            published.sections["tender"].setdefault("documents", []).append(document)
        else:
            tender = {"id": str(call.id), "documents": [document]}
            later.append(Change(row["created_at"], "f", str(row["id"]), ["tenderUpdate"], {"tender": tender}))
    return later


def _review_milestone(status: str, at: datetime) -> dict[str, Any]:
    milestone: dict[str, Any] = {"id": "review", "title": "专家评审", "type": "assessment", "status": status}
    milestone["dateMet" if status == "met" else "dateModified"] = stamp(at)
    return milestone


def tenderers_at(applications: Iterable[Application], moment: datetime) -> set[uuid.UUID]:
    """The providers whose application stood when the call closed (submitted, not withdrawn)."""
    at = as_aware(moment)
    return {
        a.provider_id
        for a in applications
        if as_aware(a.submitted_at) <= at and (a.withdrawn_at is None or as_aware(a.withdrawn_at) > at)
    }


def _tender_closed(call: Call, entry: AuditEntry, ctx: Context) -> Change:
    """At the deadline the applicants become public: OCDS ``tender.tenderers`` and their number."""
    at = as_aware(entry.occurred_at)
    tender = {
        "id": str(call.id),
        "numberOfTenderers": len(ctx.tenderers),
        "tenderers": [ctx.supplier(p) for p in sorted(ctx.tenderers, key=str)],
        "awardPeriod": {"startDate": stamp(at)},
        "milestones": [_review_milestone("scheduled", at)],
    }
    return Change(entry.occurred_at, "a", entry.seq, ["tenderUpdate"], {"tender": tender}, tenderers=set(ctx.tenderers))


def _review_closed(call: Call, entry: AuditEntry) -> Change:
    tender = {"id": str(call.id), "milestones": [_review_milestone("met", entry.occurred_at)]}
    return Change(entry.occurred_at, "a", entry.seq, ["tenderUpdate"], {"tender": tender})


def _awarded(
    call: Call, notice: Notice, applications: dict[uuid.UUID, Application], entry: AuditEntry, ctx: Context
) -> Change:
    awards, suppliers = [], set()
    for project in notice.projects:
        application_id, provider_id = uuid.UUID(project["application_id"]), uuid.UUID(project["provider_id"])
        application = applications.get(application_id)
        award: dict[str, Any] = {
            "id": str(application_id),
            "title": project["title"],
            # Proposed, not yet in force: the public notice (公示) takes objections first.
            "status": "pending",
            "value": money(int(project["amount_fen"])),
            "suppliers": [ctx.supplier(provider_id)],
        }
        if application is not None and application.approved_at is not None:
            award["date"] = stamp(application.approved_at)
        awards.append(award)
        suppliers.add(provider_id)
    document = {
        "id": str(notice.id),
        "documentType": "awardNotice",
        "title": notice.title,
        "description": (
            f"立项公示{notice.period_working_days}个工作日，异议受理截至{notice.objection_deadline.isoformat()}"
        ),
        "url": ctx.url(f"/api/v1/notices/{notice.id}"),
        "datePublished": stamp(entry.occurred_at),
        "format": "application/json",
        "language": "zh",
    }
    tender = {
        "id": str(call.id),
        "status": "complete",
        "awardPeriod": {"endDate": stamp(entry.occurred_at)},
        "documents": [document],
    }
    return Change(
        entry.occurred_at, "a", entry.seq, ["award"], {"tender": tender, "awards": awards}, suppliers=suppliers
    )


def _contract_section(contract_id: uuid.UUID, award_id: uuid.UUID, snapshot: dict[str, Any]) -> dict[str, Any]:
    contract: dict[str, Any] = {
        "id": str(contract_id),
        "awardID": str(award_id),
        "title": snapshot["title"],
        "status": "active",
        "period": {
            "startDate": day_start(date.fromisoformat(snapshot["start_date"])),
            "endDate": day_end(date.fromisoformat(snapshot["end_date"])),
        },
        "value": money(int(snapshot["amount_fen"])),
    }
    # The offerings the contract pays for, per service delivered.
    if offerings := snapshot.get("funded_offerings"):
        contract["items"] = [
            {
                "id": item["offering_id"],
                "description": "合同资助的服务项目（按次结算）",
                "quantity": item["quota"],
                "unit": {"name": "次", "value": money(int(item["unit_price_fen"]))},
            }
            for item in offerings
        ]
    # What the contract promises to achieve (绩效目标): the winning application's KPIs, or the targets of a direct
    # award. A measured target names its funded offering (the classification, the same id as the offering's item
    # and its delivery milestone) and the quantity of services promised; a stated one its wording only.
    targets = [_target_item(position, target) for position, target in enumerate(snapshot.get("targets") or [], 1)]
    if targets:
        contract["items"] = [*contract.get("items", []), *targets]
    return contract


def _target_item(position: int, target: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": f"target-{position}",
        "description": f"绩效目标：{target['name']}，{target['target']}",
    }
    if target.get("offering_id") and target.get("quantity"):
        item["description"] += f"（服务项目{target['offering_id']}，以已核实交付次数衡量）"
        item["classification"] = {
            "scheme": "x_linli_offering",
            "id": target["offering_id"],
            "description": "合同资助的服务项目（邻里平台服务编号）",
        }
        item["quantity"] = target["quantity"]
        item["unit"] = {"name": "次"}
    return item


def _installments(snapshot: dict[str, Any], *, with_status: bool) -> list[dict[str, Any]]:
    """The payment plan as payment milestones; an amendment restates the amounts but not what is paid."""
    milestones = []
    for item in snapshot.get("installments", []):
        milestone = {
            "id": f"installment-{item['seq']}",
            "title": f"第{item['seq']}期拨付",
            "type": "payment",
            "description": (
                f"{INSTALLMENT_CONDITIONS.get(item['condition'], item['condition'])}，"
                f"金额{money(int(item['amount_fen']))['amount']}元"
            ),
        }
        if with_status:
            milestone["status"] = "scheduled"
        milestones.append(milestone)
    return milestones


def _contract_changes(
    entry: ContractAuditEntry,
    award_id: uuid.UUID,
    *,
    direct: bool,
    amendments: dict[tuple[uuid.UUID, int], ContractAmendment],
) -> Change | None:
    after = entry.after
    provider_id = uuid.UUID(after["provider_id"])
    if entry.action == "signed":
        contract = {**_contract_section(entry.contract_id, award_id, after), "dateSigned": stamp(entry.occurred_at)}
        if milestones := _installments(after, with_status=True):
            contract["milestones"] = milestones
        award: dict[str, Any] = {"id": str(award_id), "status": "active"}
        sections: dict[str, Any] = {"awards": [award], "contracts": [contract]}
        tag = ["awardUpdate", "contract"]
        if direct:
            award.update(
                title=after["title"],
                date=stamp(entry.occurred_at),
                value=money(int(after["amount_fen"])),
                suppliers=[{"id": str(provider_id)}],
            )
            tender: dict[str, Any] = {
                "id": str(entry.contract_id),
                "title": after["title"],
                "status": "complete",
                "procurementMethod": "direct",
                "procurementMethodDetails": "直接委托（未经项目征集）",
                "mainProcurementCategory": "services",
            }
            if rationale := after.get("rationale"):
                # The legal rationale one official recorded and a second approved (four eyes).
                tender["procurementMethodDetails"] = "直接委托（经另一名官员审批）"
                tender["procurementMethodRationale"] = mask_text(rationale)
            sections["tender"] = tender
            tag = ["award", "contract"]
        return Change(entry.occurred_at, "c", entry.seq, tag, sections, suppliers={provider_id})
    if entry.action == "amended":
        contract = _contract_section(entry.contract_id, award_id, after)
        kept = {item["seq"] for item in after.get("installments", [])}
        # An installment a settlement lowered to nothing left the plan: it is no longer paid.
        dropped = [
            {"id": f"installment-{item['seq']}", "status": "notMet", "description": "经补充协议结算，本期不再拨付"}
            for item in (entry.before or {}).get("installments", [])
            if item["seq"] not in kept
        ]
        if milestones := [*_installments(after, with_status=False), *dropped]:
            contract["milestones"] = milestones
        version = int(after.get("version") or 0)
        amendment = amendments.get((entry.contract_id, version))
        record: dict[str, Any] = {
            "id": str(amendment.id) if amendment else f"version-{version}",
            "date": stamp(entry.occurred_at),
        }
        if amendment is not None:
            record["description"] = mask_text(amendment.summary)
            record["rationale"] = mask_text(amendment.reason)
        contract["amendments"] = [record]
        return Change(
            entry.occurred_at, "c", entry.seq, ["contractAmendment"], {"contracts": [contract]}, {provider_id}
        )
    if entry.action == "terminated":
        contract = {"id": str(entry.contract_id), "awardID": str(award_id), "status": "terminated"}
        if entry.reason:
            contract["description"] = "终止原因：" + mask_text(entry.reason)
        return Change(
            entry.occurred_at, "c", entry.seq, ["contractTermination"], {"contracts": [contract]}, {provider_id}
        )
    return None  # drafts are not public


async def _implementation_changes(
    session: AsyncSession,
    award_of: dict[uuid.UUID, uuid.UUID],
    provider_of: dict[uuid.UUID, uuid.UUID],
    ctx: Context,
) -> list[Change]:
    """Disbursements (transactions), finalized evaluations and acceptances of the process's contracts."""
    changes = []
    for paid, settles_kept in await repository.disbursements(session, award_of):
        transaction = {
            "id": str(paid.id),
            "date": day_start(paid.paid_on),
            "value": money(paid.amount_fen),
            "payee": {"id": str(provider_of[paid.contract_id])},
        }
        installment: dict[str, Any] = {
            "id": f"installment-{paid.installment_seq}",
            "status": "met",
            "dateMet": day_start(paid.paid_on),
        }
        if settles_kept:
            # Not an installment of the plan: the residents' bookings an ended contract still owed, delivered.
            installment.update(
                id=f"kept-settlement-{paid.installment_seq}", title=KEPT_SETTLEMENT_TITLE, type="payment"
            )
        contract = {
            "id": str(paid.contract_id),
            "awardID": str(award_of[paid.contract_id]),
            "implementation": {"transactions": [transaction]},
            "milestones": [installment],
        }
        changes.append(
            Change(
                paid.recorded_at,
                "d",
                str(paid.id),
                ["implementation"],
                {"contracts": [contract]},
                {provider_of[paid.contract_id]},
            )
        )
    for evaluation in await repository.finalized_evaluations(session, award_of):
        if evaluation.finalized_at is None:
            continue
        stage = str(evaluation.stage)
        milestone: dict[str, Any] = {
            "id": f"evaluation-{stage}",
            "title": EVALUATION_STAGES.get(stage, stage),
            "type": "assessment",
            "status": "met",
            "dateMet": stamp(evaluation.finalized_at),
        }
        if evaluation.combined_score_centi is not None:
            milestone["description"] = (
                f"采购方、服务对象、第三方评估加权综合得分{evaluation.combined_score_centi / 100:.2f}分"
            )
        contract = {
            "id": str(evaluation.contract_id),
            "awardID": str(award_of[evaluation.contract_id]),
            "implementation": {"milestones": [milestone]},
        }
        changes.append(
            Change(evaluation.finalized_at, "e", str(evaluation.id), ["implementation"], {"contracts": [contract]})
        )
    changes += await _delivery_changes(session, award_of)
    changes += await _sanction_changes(session, award_of, provider_of)
    acceptances = await repository.acceptances(session, award_of)
    reports = await repository.public_documents(session, ACCEPTANCE_REPORT.owner_kind, (a.id for a in acceptances))
    for acceptance in acceptances:
        status, result = ACCEPTANCE_RESULTS.get(str(acceptance.result), ("partiallyMet", str(acceptance.result)))
        milestone = {
            "id": f"acceptance-{acceptance.attempt}",
            "title": f"验收（第{acceptance.attempt}次）",
            "type": "assessment",
            "status": status,
            "dateModified": stamp(acceptance.decided_at),
            "description": f"{result}：{mask_text(acceptance.summary)}",
        }
        if status == "met":
            milestone["dateMet"] = stamp(acceptance.decided_at)
        implementation: dict[str, Any] = {"milestones": [milestone]}
        if documents := [_report(report, acceptance.attempt, ctx) for report in reports.get(str(acceptance.id), [])]:
            implementation["documents"] = documents
        contract = {
            "id": str(acceptance.contract_id),
            "awardID": str(award_of[acceptance.contract_id]),
            "implementation": implementation,
        }
        changes.append(
            Change(acceptance.decided_at, "k", str(acceptance.id), ["implementation"], {"contracts": [contract]})
        )
    return changes


async def _delivery_changes(session: AsyncSession, award_of: dict[uuid.UUID, uuid.UUID]) -> list[Change]:
    """What each contract delivered, per funded offering, as delivery milestones: counted are only the verified
    deliveries (a suspect one counts once an official accepted it, never while pending or once rejected). One
    release per contract, named by its count, dated by the latest counted delivery."""
    delivered = await repository.verified_deliveries(session, award_of)
    quotas = await repository.funded_quotas(session, award_of)
    by_contract: dict[uuid.UUID, list[tuple[uuid.UUID, int, datetime]]] = {}
    for (contract_id, offering_id), (count, last) in delivered.items():
        by_contract.setdefault(contract_id, []).append((offering_id, count, last))
    changes = []
    for contract_id, rows in by_contract.items():
        milestones = []
        for offering_id, count, last in sorted(rows, key=lambda row: str(row[0])):
            quota = quotas.get((contract_id, offering_id), 0)
            status = "met" if quota and count >= quota else "partiallyMet"
            milestone: dict[str, Any] = {
                "id": f"delivery-{offering_id}",
                "title": "服务交付（已核实）",
                "type": "delivery",
                "status": status,
                "description": (
                    f"服务项目{offering_id}已核实交付{count}次，合同资助{quota}次（存疑未核或核定不实的服务不计入）"
                ),
                "dateModified": stamp(last),
            }
            if status == "met":
                milestone["dateMet"] = stamp(last)
            milestones.append(milestone)
        total = sum(count for _, count, _ in rows)
        latest = max(last for _, _, last in rows)
        contract = {
            "id": str(contract_id),
            "awardID": str(award_of[contract_id]),
            "implementation": {"milestones": milestones},
        }
        changes.append(
            Change(latest, "v", f"{contract_id}-{total}", ["implementationUpdate"], {"contracts": [contract]})
        )
    return changes


SANCTION_CAUSES = {"acceptance_failed": "验收不合格", "final_score_below_threshold": "终期评估得分低于合格线"}
SANCTION_STATUSES = {"active": "执行中", "served": "已期满", "lifted": "已解除"}


async def _sanction_changes(
    session: AsyncSession, award_of: dict[uuid.UUID, uuid.UUID], provider_of: dict[uuid.UUID, uuid.UUID]
) -> list[Change]:
    """A sanction imposed for one of the process's contracts (and its end) in the supplier party's ``details``:
    OCDS 1.1 has no field for sanctions, and ``details`` is where a publisher says more of a party."""
    changes = []
    for sanction in await repository.sanctions(session, award_of):
        if sanction.contract_id is None:
            continue
        provider_id = provider_of[sanction.contract_id]
        note: dict[str, Any] = {
            "id": str(sanction.id),
            "contractID": str(sanction.contract_id),
            "cause": str(sanction.cause),
            "causeName": SANCTION_CAUSES.get(str(sanction.cause), str(sanction.cause)),
            "measure": sanction.measure,
            "description": mask_text(sanction.reason),
            "imposedDate": stamp(sanction.imposed_at),
            "status": "active",
            "statusName": SANCTION_STATUSES["active"],
        }
        changes.append(
            Change(
                sanction.imposed_at,
                "s",
                str(sanction.id),
                ["contractUpdate"],
                {},
                suppliers={provider_id},
                party_details={provider_id: {"sanction": note}},
            )
        )
        if sanction.ended_at is not None:
            ended = {
                **note,
                "status": str(sanction.status),
                "statusName": SANCTION_STATUSES.get(str(sanction.status), str(sanction.status)),
                "endDate": stamp(sanction.ended_at),
            }
            changes.append(
                Change(
                    sanction.ended_at,
                    "s",
                    f"{sanction.id}-end",
                    ["contractUpdate"],
                    {},
                    suppliers={provider_id},
                    party_details={provider_id: {"sanction": ended}},
                )
            )
    return changes


def _fill_supplier_names(sections: Any, ctx: Context) -> None:
    """Supplier references carry the party's name, as OCDS asks."""
    if isinstance(sections, dict):
        for key, value in sections.items():
            if key == "suppliers" and isinstance(value, list):
                for ref in value:
                    ref["name"] = ctx.supplier_name(uuid.UUID(ref["id"]))
            else:
                _fill_supplier_names(value, ctx)
    elif isinstance(sections, list):
        for value in sections:
            _fill_supplier_names(value, ctx)


async def call_releases(session: AsyncSession, call: Call, *, settings: OcdsSettings, base_url: str) -> list[Any]:
    ocid = ocid_of(settings, call.id)
    fund = await repository.fund(session, call.fund_id)
    applications = {a.id: a for a in await repository.applications(session, call.id)}
    notice = await repository.notice_of_call(session, call.id)
    announced = {uuid.UUID(p["application_id"]) for p in notice.projects} if notice else set()
    contracts = await repository.contracts_of_applications(session, announced)
    entries = await repository.audit_entries(session, [call.id, *([notice.id] if notice else [])])
    closed = next((e for e in entries if e.subject_id == call.id and e.action == "close"), None)
    ctx = Context(
        settings,
        base_url,
        await repository.providers(session, [a.provider_id for a in applications.values()]),
        {
            uuid.UUID(p["provider_id"]): p["provider_name"]
            for p in (notice.projects if notice else [])
            if p.get("provider_name")
        },
        fund,
        tenderers=tenderers_at(applications.values(), closed.occurred_at) if closed is not None else set(),
    )
    budget = (
        {"id": str(fund.id), "description": fund.name, "amount": money(fund.budget_fen), "project": fund.name}
        if fund is not None
        else None
    )
    changes: list[Change] = []
    for entry in entries:
        if entry.subject_id == call.id and entry.action == "publish":
            changes.append(_tender_published(call, budget, entry, ctx))
        elif entry.subject_id == call.id and entry.action == "close":
            changes.append(_tender_closed(call, entry, ctx))
        elif entry.subject_id == call.id and entry.action == "close_review":
            changes.append(_review_closed(call, entry))
        elif notice is not None and entry.subject_id == notice.id and entry.action == "published":
            changes.append(_awarded(call, notice, applications, entry, ctx))
    changes += _call_documents(
        call, await repository.public_documents(session, CALL_DOCUMENT.owner_kind, [call.id]), changes, ctx
    )
    if notice is not None:
        notice_documents = await repository.public_documents(session, NOTICE_DOCUMENT.owner_kind, [notice.id])
        changes += _notice_documents(call, notice, notice_documents.get(str(notice.id), []), changes, ctx)
    award_of = {c.id: c.application_id for c in contracts if c.application_id is not None}
    changes += await _contract_lifecycle(session, award_of, {c.id: c.provider_id for c in contracts}, ctx, direct=False)
    return _releases(ocid, changes, ctx)


def _report(report: Any, attempt: int, ctx: Context) -> dict[str, Any]:
    """An acceptance report as an OCDS document: a completion certificate, at its public URL (from configuration,
    as every link here), its date the upload's (which is when it was published)."""
    return {
        "id": str(report["id"]),
        "documentType": "completionCertificate",
        "title": f"验收报告（第{attempt}次）",
        "url": ctx.url(f"/api/v1/documents/procurement/{report['id']}"),
        "datePublished": stamp(report["created_at"]),
        "format": report["media_type"],
        "language": "zh",
    }


async def _contract_lifecycle(
    session: AsyncSession,
    award_of: dict[uuid.UUID, uuid.UUID],
    provider_of: dict[uuid.UUID, uuid.UUID],
    ctx: Context,
    *,
    direct: bool,
) -> list[Change]:
    """The public changes of signed contracts: signing, amendments, termination and implementation."""
    amendments = await repository.approved_amendments(session, award_of)
    changes = [
        change
        for entry in await repository.contract_audit_entries(session, award_of)
        if (change := _contract_changes(entry, award_of[entry.contract_id], direct=direct, amendments=amendments))
        is not None
    ]
    signed = {c.sections["contracts"][0]["id"] for c in changes if "contract" in c.tag}
    public = {cid: award for cid, award in award_of.items() if str(cid) in signed}
    return changes + await _implementation_changes(session, public, provider_of, ctx)


async def direct_contract_releases(
    session: AsyncSession, contract: Contract, *, settings: OcdsSettings, base_url: str
) -> list[Any]:
    ocid = ocid_of(settings, contract.id)
    fund = await repository.fund(session, contract.fund_id) if contract.fund_id is not None else None
    ctx = Context(settings, base_url, await repository.providers(session, [contract.provider_id]), fund=fund)
    changes = await _contract_lifecycle(
        session, {contract.id: contract.id}, {contract.id: contract.provider_id}, ctx, direct=True
    )
    return _releases(ocid, changes, ctx)


def _releases(ocid: str, changes: Iterable[Change], ctx: Context) -> list[Any]:
    releases, paid = [], set()
    last_release_of: dict[str, str] = {}  # contract id → the last release that touched it
    for change in sorted(changes, key=lambda c: c.order):
        _fill_supplier_names(change.sections, ctx)
        release_id = f"{ocid}-{change.key}"
        for contract in change.sections.get("contracts", []):
            for transaction in contract.get("implementation", {}).get("transactions", []):
                # The owner of the fund the contract draws on pays every installment.
                transaction["payer"] = ctx.payer
                transaction["payee"] = ctx.supplier(uuid.UUID(transaction["payee"]["id"]))
            for amendment in contract.get("amendments", []):
                amendment["releaseID"] = release_id
                if contract["id"] in last_release_of:
                    amendment["amendsReleaseID"] = last_release_of[contract["id"]]
            last_release_of[contract["id"]] = release_id
        if change.source == "d":
            paid |= change.suppliers
        releases.append(release(ocid, change, ctx, paid=paid))
    return releases


# ---------------------------------------------------------------- records: merging releases

# The OCDS 1.1 release schema's merge rules, as ``ocdsmerge.get_merge_rules`` reads them from the schema (the
# procurement tests check they still are): fields a compiled release omits, and lists replaced whole rather than
# merged item by item. Given here so the merge reads no schema at run time and fetches nothing.
WHOLE_LISTS = (
    ("parties", "additionalIdentifiers"),
    ("parties", "roles"),
    ("buyer", "additionalIdentifiers"),
    ("tender", "procuringEntity", "additionalIdentifiers"),
    ("tender", "items", "additionalClassifications"),
    ("tender", "additionalProcurementCategories"),
    ("tender", "submissionMethod"),
    ("tender", "tenderers", "additionalIdentifiers"),
    ("tender", "amendments", "changes"),
    ("tender", "amendment", "changes"),
    ("awards", "suppliers", "additionalIdentifiers"),
    ("awards", "items", "additionalClassifications"),
    ("awards", "amendments", "changes"),
    ("awards", "amendment", "changes"),
    ("contracts", "items", "additionalClassifications"),
    ("contracts", "implementation", "transactions", "payer", "additionalIdentifiers"),
    ("contracts", "implementation", "transactions", "payee", "additionalIdentifiers"),
    ("contracts", "relatedProcesses", "relationship"),
    ("contracts", "amendments", "changes"),
    ("contracts", "amendment", "changes"),
    ("relatedProcesses", "relationship"),
)
MERGE_RULES: dict[tuple[str, ...], str] = {
    ("id",): "omitWhenMerged",
    ("date",): "omitWhenMerged",
    ("tag",): "omitWhenMerged",
    **dict.fromkeys(WHOLE_LISTS, "wholeListMerge"),
}
MERGER = ocdsmerge.Merger(merge_rules=MERGE_RULES)


def compile_record(ocid: str, releases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The process's record: its releases, and the compiled release the Open Contracting Partnership's reference
    merge (``ocdsmerge``) makes of them, named ``<ocid>-compiled`` (one per process, whatever its last date)."""
    compiled = MERGER.create_compiled_release(copy.deepcopy(list(releases)))
    compiled["id"] = f"{ocid}-compiled"
    return {"ocid": ocid, "releases": list(releases), "compiledRelease": compiled}


# ---------------------------------------------------------------- packages


def _package_head(settings: OcdsSettings, uri: str, published: str) -> dict[str, Any]:
    head: dict[str, Any] = {
        "uri": uri,
        "version": OCDS_VERSION,
        "publishedDate": published,
        "publisher": {"name": settings.publisher_name},
    }
    if settings.license:
        head["license"] = settings.license
    return head


def _published(releases: Sequence[dict[str, Any]], fallback: datetime) -> str:
    # On demand, a package's date is that of the last change to what it holds.
    return max((r["date"] for r in releases), default=stamp(fallback))


async def release_package(
    session: AsyncSession,
    *,
    settings: OcdsSettings,
    base_url: str,
    uri: str,
    next_uri: str | None,
    limit: int,
    offset: int,
    now: datetime,
) -> tuple[dict[str, Any], int]:
    processes, total = await repository.processes_page(session, limit=limit, offset=offset)
    releases: list[dict[str, Any]] = []
    for kind, process_id in processes:
        releases += await _process_releases(session, kind, process_id, settings=settings, base_url=base_url)
    if not releases:
        # OCDS has no empty release package (``releases``: minItems 1): nothing to give is a 404.
        if offset:
            raise NotFound("This page lies past the last published contracting process.", code="no_releases")
        raise NotFound("No contracting process has been published yet.", code="no_releases")
    package = {**_package_head(settings, uri, _published(releases, now)), "releases": releases}
    if next_uri is not None and offset + limit < total:
        package["links"] = {"next": next_uri}
    return package, total


async def _process_releases(
    session: AsyncSession, kind: str, process_id: uuid.UUID, *, settings: OcdsSettings, base_url: str
) -> list[dict[str, Any]]:
    if kind == "call":
        call = await repository.published_call(session, process_id)
        return await call_releases(session, call, settings=settings, base_url=base_url) if call else []
    contract = await repository.direct_contract(session, process_id)
    return await direct_contract_releases(session, contract, settings=settings, base_url=base_url) if contract else []


async def record_package(
    session: AsyncSession, ocid: str, *, settings: OcdsSettings, base_url: str, uri: str, now: datetime
) -> dict[str, Any]:
    process_id = process_id_of(settings, ocid)
    releases = await _process_releases(session, "call", process_id, settings=settings, base_url=base_url)
    if not releases:
        releases = await _process_releases(session, "contract", process_id, settings=settings, base_url=base_url)
    if not releases:
        raise NotFound("No contracting process has this ocid.", code="ocid_not_found")
    return {
        **_package_head(settings, uri, _published(releases, now)),
        "records": [compile_record(ocid_of(settings, process_id), releases)],
    }
