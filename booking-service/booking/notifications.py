"""Messages to residents. Linli has no SMS gateway contract yet: the only sender is ``FakeSmsSender``, which
records what it would send (``Settings.sms_sender = "fake"``), so reminders can be run and checked end to end."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import structlog

from booking.config import Settings
from service_kit.timeutil import utcnow

log = structlog.get_logger("linli.booking.notifications")


class SmsSender(Protocol):
    async def send(self, phone: str, text: str) -> None: ...


@dataclass(frozen=True)
class SentSms:
    phone: str
    text: str
    at: datetime


@dataclass
class FakeSmsSender:
    """Sends nothing: keeps each message in memory (``sent``) and logs that it would have sent one."""

    sent: list[SentSms] = field(default_factory=list)

    async def send(self, phone: str, text: str) -> None:
        self.sent.append(SentSms(phone=phone, text=text, at=utcnow()))
        log.info("sms recorded, not sent (fake sender)", length=len(text))


def sms_sender(settings: Settings) -> SmsSender:
    """The sender ``settings.sms_sender`` names (only ``fake`` exists)."""
    if settings.sms_sender == "fake":
        return FakeSmsSender()
    raise ValueError(f"unknown SMS sender {settings.sms_sender!r}")
