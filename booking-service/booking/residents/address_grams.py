"""The character grams an address is found by: the console's search for part of an address (``长阳镇``, ``3号楼``)
reads a few index entries instead of every resident's address.

An address is kept as the set of its grams: each character with the one after it (``长阳``, ``阳镇``), and its
last character alone, so every character of it begins at least one gram. Typed text of two or more characters
is found among the residents holding all of its bigrams; one character, among those holding a gram that begins
with it. Either way that is a superset of the addresses that hold the text, which the database's own ``LIKE``
then confirms, so the answer is exactly the one a ``LIKE '%…%'`` over every address would give. ASCII letters
are folded to lower case, as SQLite's ``LIKE`` folds them (PostgreSQL's ``LIKE`` is stricter: still a
superset)."""

_ASCII_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# The gram that follows every gram beginning with a character, skipping the surrogates no database stores.
_SURROGATES = range(0xD800, 0xE000)


def fold(text: str) -> str:
    return text.translate(_ASCII_UPPER)


def of_address(address: str | None) -> set[str]:
    """The grams an address is indexed by (none for no address)."""
    folded = fold(address or "")
    return {folded[i : i + 2] for i in range(len(folded))}


def of_query(text: str) -> set[str]:
    """The bigrams every address holding ``text`` (two characters or more) holds."""
    folded = fold(text)
    return {folded[i : i + 2] for i in range(len(folded) - 1)}


def after(char: str) -> str | None:
    """The first gram past every gram that begins with ``char`` (None past the last character)."""
    return successor(fold(char))


def successor(char: str) -> str | None:
    """The character after ``char`` in code point order, skipping the surrogates (None after the last)."""
    code = ord(char) + 1
    if code in _SURROGATES:
        code = _SURROGATES.stop
    return chr(code) if code <= 0x10FFFF else None
