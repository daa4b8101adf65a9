"""Each kind of message: the parameters its provider template takes, in order, and our Chinese text of it.

Short sentences for an 82-year-old reader: what happened, to which service, when, and what to do. The
provider's copy of each template (registered under the id ``settings.sms_template_ids[kind]``) must say the
same with the same parameters in the same order. No parameter ever carries an ID number."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from service_kit.timeutil import SHANGHAI

SIGN = "【邻里】"


@dataclass(frozen=True)
class Template:
    kind: str
    title: str
    text: str
    params: tuple[str, ...] = ()

    def render(self, values: Mapping[str, str]) -> Rendered:
        missing = [name for name in self.params if name not in values]
        if missing:
            raise KeyError(f"template {self.kind} needs {', '.join(missing)}")
        params = tuple(str(values[name]) for name in self.params)
        text = self.text.format(**dict(zip(self.params, params, strict=True)))
        return Rendered(kind=self.kind, title=self.title, text=text, params=params)


@dataclass(frozen=True)
class Rendered:
    kind: str
    title: str
    text: str
    params: tuple[str, ...]

    @property
    def sms_text(self) -> str:
        """What the phone shows: the sign, then the text."""
        return SIGN + self.text


def _templates(*templates: Template) -> dict[str, Template]:
    return {template.kind: template for template in templates}


TEMPLATES = _templates(
    Template(
        "sign_in_code", "验证码", "您的验证码是 {code}，{minutes} 分钟内有效，请勿告诉他人。", ("code", "minutes")
    ),
    Template("booking_confirmed", "预约已确认", "预约已确认：{service}，{time}。请按时等候。", ("service", "time")),
    Template(
        "booking_rejected",
        "预约没有成功",
        "预约没有成功：{service}，{time}。服务方这次接待不了，可以另约时间。",
        ("service", "time"),
    ),
    Template(
        "booking_expired",
        "预约已失效",
        "预约已失效：{service}，{time}。服务方没有及时确认，可以另约时间。",
        ("service", "time"),
    ),
    Template(
        "booking_cancelled",
        "预约已取消",
        "预约已取消：{service}，{time}。有疑问请打社区服务热线。",
        ("service", "time"),
    ),
    Template("booking_rescheduled", "预约已改时间", "预约改了时间：{service}，改到{time}。", ("service", "time")),
    Template(
        "booking_reminder",
        "服务提醒",
        "提醒您：{service}，{time}开始。要取消或改期，请打社区服务热线。",
        ("service", "time"),
    ),
    Template(
        "booking_provider_missed",
        "服务人员没有来",
        "服务人员没有按时来：{service}，{time}。社区工作人员会给您打电话。",
        ("service", "time"),
    ),
    # A place freed in a full slot, held for the first on its waitlist until ``until`` (booking/waitlist).
    Template(
        "waitlist_offer",
        "候补有空位了",
        "您候补的{service}（{time}）有空位了，为您保留到{until}。请在邻里里确认，或打社区服务热线。",
        ("service", "time", "until"),
    ),
    # A subsidised unit of a funded programme's used-up quota, held for the first on its waitlist until ``until``.
    Template(
        "waitlist_quota_offer",
        "补贴名额有空了",
        "{service}（{time}）补贴名额有空了，补贴价{price}元，为您保留到{until}，请确认。",
        ("service", "time", "price", "until"),
    ),
    # The programme a resident waited in the quota line of ended (its contract ended or stopped funding the
    # service): no subsidised unit will be offered. Her bookings are not changed by it.
    Template(
        "waitlist_quota_ended",
        "补贴名额候补已结束",
        "{service}的补贴项目已结束，您的补贴名额候补也结束了，不会再有补贴名额通知。已约的服务不受影响。",
        ("service",),
    ),
    # A full-price booking re-priced when the subsidised unit she waited for was given to her (booking/waitlist).
    Template(
        "booking_repriced",
        "已改按补贴价",
        "您预约的{service}（{time}）已改按补贴价，您只需付{price}元（原价{was}元）。",
        ("service", "time", "price", "was"),
    ),
    # A staff or resident account locked after many wrong passwords (gateway/lockout): its owner should know.
    Template(
        "account_locked",
        "账号已临时锁定",
        "您的邻里账号密码输错太多次，已锁定 {minutes} 分钟。如果不是您本人，请告诉社区工作人员。",
        ("minutes",),
    ),
    # ``reference``: the complaint's number as it is read out (``spoken_reference``), the same the operator gave.
    Template(
        "complaint_opened",
        "投诉已收到",
        "您的投诉我们收到了，投诉编号 {reference}，请记下。会尽快处理，结果会告诉您。",
        ("reference",),
    ),
    Template(
        "complaint_resolved", "投诉有答复了", "您的投诉（编号 {reference}）处理好了，请在邻里里看答复。", ("reference",)
    ),
    Template(
        "complaint_escalated",
        "投诉已上报",
        "您的投诉（编号 {reference}）已交给上级部门处理，请耐心等一等。",
        ("reference",),
    ),
    Template("need_status", "需求有进展", "您提的需求有进展：{progress}。", ("progress",)),
    # What a family helper's phone shows of a message to the resident they help: whose it is and what it is
    # about (the parent's own text would read as the helper's: "您的投诉…"); the inbox copy has the whole text.
    Template("helper_copy", "家人的消息", "您的家人{name}有一条消息：{title}。请在邻里里查看。", ("name", "title")),
    # An urgent safety call (booking/urgent): the hotline tells the resident's emergency contact and the duty
    # phone of the resident's community at once, at any hour. Neither is the resident: each says whom it is about.
    Template(
        "urgent_contact",
        "紧急求助通知",
        "紧急：{name}可能需要帮助（{reason}），您是其紧急联系人，请马上联系或前往查看，社区也已获知。",
        ("name", "reason"),
    ),
    Template(
        "urgent_community",
        "紧急求助通知",
        "紧急：{community}居民{name}可能需要帮助（{reason}），住址{address}。请马上上门查看。",
        ("community", "name", "reason", "address"),
    ),
)

# The kinds a resident may turn SMS off for (the inbox always gets every message; a sign-in code and a lockout
# notice always go). A helper's copy is turned off by the kind of the parent's message.
RESIDENT_KINDS = tuple(
    kind
    for kind in TEMPLATES
    if kind not in ("sign_in_code", "account_locked", "helper_copy", "urgent_contact", "urgent_community")
)


def render(kind: str, **values: str) -> Rendered:
    return TEMPLATES[kind].render(values)


def local_time(when: datetime) -> str:
    """``12月6日 09:00`` in Beijing time: how every message names a time."""
    local = when.astimezone(SHANGHAI)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def yuan(fen: int) -> str:
    """``300`` → ``3``, ``350`` → ``3.50``: how every message names an amount of money (in yuan)."""
    return f"{fen // 100}" if fen % 100 == 0 else f"{fen / 100:.2f}"


def spoken_reference(reference: str | None) -> str:
    """``47112086`` → ``4711 2086``: a complaint's number in two groups of four, as an operator reads it out and
    a caller writes it down. ``—`` for a complaint event written before complaints had numbers."""
    if not reference:
        return "—"
    return " ".join(reference[i : i + 4] for i in range(0, len(reference), 4))
