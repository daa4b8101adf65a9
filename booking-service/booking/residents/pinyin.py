"""How an operator finds a caller by name on a keyboard: the name's pinyin (``zhangguilan``) and its initials
(``zgl``), kept on the resident's row beside the name and indexed, so "zgl" is a prefix query, not a scan.

pypinyin gives each character its most common reading; a surname read otherwise (曾 as zeng, 单 as shan) is
also found by the name's characters themselves. Letters and digits in a name are kept as they are (lower case)."""

from __future__ import annotations

import re

_NOT_KEY = re.compile(r"[^0-9a-z]")


def name_keys(name: str | None) -> tuple[str | None, str | None]:
    """``(pinyin, initials)`` of a name: ``张桂兰`` → ``("zhangguilan", "zgl")``; ``(None, None)`` for no name."""
    if not name:
        return None, None
    # Imported at the first name, not at the service's start: its phrase dictionary is a fifth of a second of
    # every start (and of every migration run), and a start needs no name read.
    from pypinyin import lazy_pinyin

    syllables = [_NOT_KEY.sub("", s.lower()) for s in lazy_pinyin(name, errors="default")]
    syllables = [s for s in syllables if s]
    if not syllables:
        return None, None
    initials = "".join(s[0] for s in syllables)
    return "".join(syllables)[:200], initials[:50]


def as_key(typed: str) -> str:
    """What an operator typed (``ZGL``, ``zhang gui``) as a key to compare with: lower case, letters and digits."""
    return _NOT_KEY.sub("", typed.lower())
