"""Sending text messages. Only a fake exists: it records every message so tests and the dev stack can read
the one-time codes (an admin endpoint shows them outside production). A real SMS gateway is a later step;
until then residents cannot sign in on a production gateway, because nobody receives their codes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from service_kit.timeutil import utcnow


class SmsSender(Protocol):
    async def send(self, phone: str, text: str) -> None: ...


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    text: str
    sent_at: datetime


@dataclass
class FakeSmsSender:
    """Keeps the last messages in memory instead of sending them."""

    keep: int = 1000
    messages: list[SmsMessage] = field(default_factory=list)

    async def send(self, phone: str, text: str) -> None:
        self.messages.append(SmsMessage(phone=phone, text=text, sent_at=utcnow()))
        del self.messages[: -self.keep]

    def sent_to(self, phone: str) -> list[SmsMessage]:
        return [message for message in self.messages if message.phone == phone]

    def last_code(self, phone: str) -> str | None:
        """The one-time code in the last message to ``phone`` (E.164), if any."""
        for message in reversed(self.sent_to(phone)):
            if found := re.search(r"\b(\d{6})\b", message.text):
                return found.group(1)
        return None
