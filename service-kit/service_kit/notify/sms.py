"""What an SMS is, who sends one, and the fake sender of dev and tests.

A provider sends only templates registered with it (template id + ordered parameters); ``Sms.text`` is our
rendering of the same template, for the fake sender's record and the resident's inbox. Phones are E.164
(``+8613812345678``) and appear in logs and admin views only masked (``mask_phone``)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

import structlog

from service_kit.timeutil import utcnow

log = structlog.get_logger("linli.sms")


@dataclass(frozen=True)
class Sms:
    phone: str
    kind: str
    params: tuple[str, ...]
    text: str


class SmsFailed(Exception):
    """The provider refused or could not take the message; ``code`` is its error code (kept on the delivery)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class SmsSender(Protocol):
    async def send(self, sms: Sms) -> str:
        """Hand ``sms`` to the provider; the provider's id of the message. Raises ``SmsFailed``."""
        ...


def mask_phone(phone: str | None) -> str:
    """``+8613812345678`` → ``+86138****5678``: enough to tell numbers apart, not to call one."""
    if not phone:
        return ""
    digits = phone[-11:] if len(phone) >= 11 else phone
    prefix = phone[: len(phone) - len(digits)]
    if len(digits) < 7:
        return prefix + "*" * len(digits)
    return f"{prefix}{digits[:3]}****{digits[-4:]}"


@dataclass(frozen=True)
class SentSms:
    phone: str
    kind: str
    params: tuple[str, ...]
    text: str
    sent_at: datetime
    message_id: str


@dataclass
class FakeSmsSender:
    """Sends nothing: keeps the last ``keep`` messages in memory (``messages``), for tests and the dev stack,
    whose admins read them at an ops endpoint (``service_kit.notify.outbox``), never in production.

    With ``shared``, each message is also appended to that file (a JSON line), and ``recorded`` reads them from
    it: the service's worker sends from a process of its own (docs/workers.md), and its API's admins read there
    what the worker recorded."""

    keep: int = 1000
    messages: list[SentSms] = field(default_factory=list)
    shared: Path | None = None
    _count: int = 0

    async def send(self, sms: Sms) -> str:
        self._count += 1
        message_id = f"fake-{uuid.uuid4().hex[:12]}" if self.shared else f"fake-{self._count}"
        sent = SentSms(
            phone=sms.phone,
            kind=sms.kind,
            params=sms.params,
            text=sms.text,
            sent_at=utcnow(),
            message_id=message_id,
        )
        self.messages.append(sent)
        del self.messages[: -self.keep]
        if self.shared is not None:
            line = json.dumps({**dataclasses.asdict(sent), "sent_at": sent.sent_at.isoformat()}, ensure_ascii=False)
            self.shared.parent.mkdir(parents=True, exist_ok=True)
            with self.shared.open("a", encoding="utf-8") as out:  # one short append: whole lines, whoever writes
                out.write(line + "\n")
        log.info("sms recorded, not sent (fake sender)", kind=sms.kind, phone=mask_phone(sms.phone))
        return message_id

    def recorded(self) -> list[SentSms]:
        """The last ``keep`` messages, oldest first: every process's (``shared``), else this one's."""
        if self.shared is None:
            return list(self.messages)
        try:
            lines = self.shared.read_text(encoding="utf-8").splitlines()[-self.keep :]
        except FileNotFoundError:
            return []
        recorded = []
        for line in lines:
            with contextlib.suppress(ValueError, TypeError, KeyError):
                fields = json.loads(line)
                fields |= {"params": tuple(fields["params"]), "sent_at": datetime.fromisoformat(fields["sent_at"])}
                recorded.append(SentSms(**fields))
        return recorded

    def sent_to(self, phone: str) -> list[SentSms]:
        return [message for message in self.recorded() if message.phone == phone]

    def last_code(self, phone: str) -> str | None:
        """The one-time code in the last message to ``phone`` (E.164), if any."""
        for message in reversed(self.sent_to(phone)):
            if found := re.search(r"\b(\d{6})\b", message.text):
                return found.group(1)
        return None
