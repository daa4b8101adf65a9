"""Masking personal data in what the public reads: names, phone numbers, ID-card numbers."""

from __future__ import annotations

import re

_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{11}[0-9Xx](?![0-9A-Za-z])")


def mask_name(name: str) -> str:
    """王小明 → 王**; one-character names become *."""
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def mask_text(text: str) -> str:
    """Keep the region of an ID-card number and the carrier prefix and last four digits of a mobile number."""
    text = _ID_CARD.sub(lambda m: m.group(1) + "*" * 12, text)
    return _MOBILE.sub(r"\1****\2", text)
