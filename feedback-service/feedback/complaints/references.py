"""A complaint's reference: eight digits a caller writes down and reads back on the next call.

Seven random digits (the first never 0, so the number never loses a digit on paper or in a spreadsheet) and a
Damm check digit, which catches any one digit misheard and any two neighbours swapped: a number read back wrong
is answered "no such number" at once instead of opening a stranger's complaint. Random rather than counted, so
a reference says nothing of how many complaints the district has; the unique index decides a collision and the
filing draws again (``service.file_complaint``)."""

import re
import secrets

LENGTH = 8
PATTERN = re.compile(r"^[1-9][0-9]{7}$")
# What a person types or reads between the digits ("4711 2086", "4711-2086").
_SEPARATORS = re.compile(r"[\s\-]+")

# Damm's quasigroup of order 10 (totally anti-symmetric, zero diagonal).
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def _interim(digits: str) -> int:
    interim = 0
    for digit in digits:
        interim = _DAMM[interim][int(digit)]
    return interim


def with_check_digit(body: str) -> str:
    return body + str(_interim(body))


def new_reference() -> str:
    """A fresh reference; whether it is free is the database's to say."""
    return with_check_digit(str(1_000_000 + secrets.randbelow(9_000_000)))


def is_valid(reference: str) -> bool:
    return bool(PATTERN.match(reference)) and _interim(reference) == 0


def normalize(text: str) -> str | None:
    """The reference in what an operator or a resident typed (spaces and dashes between digit groups allowed),
    or None when it cannot be one."""
    reference = _SEPARATORS.sub("", text)
    return reference if is_valid(reference) else None
