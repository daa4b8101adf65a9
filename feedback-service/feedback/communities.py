"""Linli's community codes and the street (街道) each belongs to.

A community code is ``<street>.<community>`` (e.g. ``gongchen.shidai_jiahe`` lies in street ``gongchen``), the
convention of the registry's gazetteer. The street is the part before the first dot; a code without a dot names
no street, and reports list such records under a null street rather than guessing one.
"""

from typing import Annotated

from pydantic import StringConstraints

CommunityCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


def street_of(community_code: str | None) -> str | None:
    """``gongchen.shidai_jiahe`` → ``gongchen``; ``None`` when there is no community or no dot in it."""
    if not community_code or "." not in community_code:
        return None
    return community_code.split(".", 1)[0] or None
