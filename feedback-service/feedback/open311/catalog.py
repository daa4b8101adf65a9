"""The Open311 services: complaint categories and need domains, each under a stable ``service_code``."""

from dataclasses import dataclass, field
from typing import Any

from feedback.complaints.models import ComplaintCategory, Severity, TargetKind
from feedback.needs.models import NeedKind

COMPLAINT_PREFIX = "complaint."
NEED_PREFIX = "need."


@dataclass(frozen=True)
class Attribute:
    code: str
    description: str
    required: bool
    values: tuple[str, ...] = ()
    datatype: str = "string"

    def as_open311(self, order: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "variable": True,
            "code": self.code,
            "datatype": "singlevaluelist" if self.values else self.datatype,
            "required": self.required,
            "datatype_description": None,
            "order": order,
            "description": self.description,
        }
        if self.values:
            body["values"] = [{"key": v, "name": v} for v in self.values]
        return body


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    description: str
    group: str
    keywords: str
    attributes: tuple[Attribute, ...] = field(default_factory=tuple)
    # A need service: the top-level category of the registry's taxonomy its needs are recorded in.
    category_code: str | None = None

    def as_open311(self) -> dict[str, Any]:
        return {
            "service_code": self.code,
            "service_name": self.name,
            "description": self.description,
            "metadata": bool(self.attributes),
            "type": "realtime",
            "keywords": self.keywords,
            "group": self.group,
        }

    def definition(self) -> dict[str, Any]:
        return {
            "service_code": self.code,
            "attributes": [a.as_open311(i + 1) for i, a in enumerate(self.attributes)],
        }


_COMPLAINT_NAMES = {
    ComplaintCategory.service_quality: ("服务质量投诉 Service quality", "quality"),
    ComplaintCategory.staff_conduct: ("服务人员态度投诉 Staff conduct", "attitude,staff"),
    ComplaintCategory.punctuality: ("迟到或未上门 Late or missed visit", "late,missed"),
    ComplaintCategory.safety: ("安全问题 Safety", "safety,danger"),
    ComplaintCategory.billing: ("收费问题 Billing", "price,fee,billing"),
    ComplaintCategory.facility: ("服务中心设施 Center facilities", "center,facility"),
    ComplaintCategory.other: ("其他投诉 Other complaint", "other"),
}

_COMPLAINT_ATTRIBUTES = (
    Attribute("target_kind", "What the complaint is about", True, tuple(t.value for t in TargetKind)),
    Attribute("target_id", "The id of the provider, booking, offering or center", True),
    Attribute("severity", "How serious it is (default normal)", False, tuple(s.value for s in Severity)),
    Attribute("provider_id", "The provider concerned, when the target is an offering or a center", False),
    Attribute("resident_id", "Staff filing for a resident: the resident's id", False),
    Attribute("community_code", "The complainant's community (社区), e.g. gongchen.shidai_jiahe", False),
)

# The top level of the registry's taxonomy: needs are grouped by it and the community. ``need.<domain>`` records a
# need in the category beside it; ``need.public`` is older than the taxonomy's code for it (``public_services``).
_NEED_DOMAINS = {
    "elderly": ("养老服务需求 Elderly care", "elderly"),
    "children": ("儿童服务需求 Children", "children"),
    "green": ("绿色环保需求 Green living", "green"),
    "public": ("公共服务进社区 Public services", "public_services"),
    "counseling": ("心理咨询需求 Counseling", "counseling"),
    "volunteer": ("志愿服务需求 Volunteering", "volunteer"),
    "culture": ("文化活动需求 Culture", "culture"),
}

_NEED_ATTRIBUTES = (
    Attribute("community_code", "The community (社区) the need is in", False),
    Attribute("kind", "An unmet need or a suggestion (default need)", False, tuple(k.value for k in NeedKind)),
    Attribute("target_group", "Who needs it, e.g. elderly_80_plus", False),
)

SERVICES: dict[str, Service] = {
    **{
        f"{COMPLAINT_PREFIX}{category.value}": Service(
            code=f"{COMPLAINT_PREFIX}{category.value}",
            name=name,
            description=f"A complaint (投诉): {name}",
            group="complaints",
            keywords=keywords,
            attributes=_COMPLAINT_ATTRIBUTES,
        )
        for category, (name, keywords) in _COMPLAINT_NAMES.items()
    },
    **{
        f"{NEED_PREFIX}{domain}": Service(
            code=f"{NEED_PREFIX}{domain}",
            name=name,
            description=f"An unmet need or a suggestion (诉求): {name}",
            group="needs",
            keywords=domain,
            attributes=_NEED_ATTRIBUTES,
            category_code=category_code,
        )
        for domain, (name, category_code) in _NEED_DOMAINS.items()
    },
}


def service_of_complaint(category: str) -> Service:
    return SERVICES[f"{COMPLAINT_PREFIX}{category}"]


_NEED_SERVICE_OF_CATEGORY = {
    **{domain: SERVICES[f"{NEED_PREFIX}{domain}"] for domain in _NEED_DOMAINS},  # codes recorded before
    **{category: SERVICES[f"{NEED_PREFIX}{domain}"] for domain, (_, category) in _NEED_DOMAINS.items()},
}


def service_of_need(category_code: str) -> Service | None:
    """A need recorded through the REST API may carry a detailed code ("elderly.meal_table"): its domain's service."""
    return _NEED_SERVICE_OF_CATEGORY.get(category_code.split(".", 1)[0])


def need_categories(service_code: str) -> tuple[str, ...]:
    """The top-level categories whose needs a ``need.<domain>`` service lists (with the domain itself, the code
    needs filed through it were recorded in before the taxonomy's)."""
    service = SERVICES[service_code]
    domain = service_code.removeprefix(NEED_PREFIX)
    return tuple(dict.fromkeys(c for c in (service.category_code, domain) if c))
