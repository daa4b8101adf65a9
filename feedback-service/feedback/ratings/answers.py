"""A resident's rating invitations, which her app polls: kept in memory per resident until an event says they
changed (service_kit.readmostly). A poll that finds nothing new costs no query (docs/workers.md)."""

from pydantic import TypeAdapter

from feedback.ratings.schemas import RatingInvitation
from service_kit.events.contracts import RatingInvitationChanged, ResidentErased
from service_kit.pagination import Page
from service_kit.readmostly import ReadMostly

INVITATIONS = "rating_invitations"

READ_MOSTLY = ReadMostly(
    "feedback",
    {INVITATIONS: (RatingInvitationChanged.type, ResidentErased.type)},
    partitioned_by={INVITATIONS: "resident_id"},
    # Residents whose lists are kept at once; beyond it, all are dropped and kept again as they poll.
    max_entries=20_000,
    # However a change was missed (an erasure heard before it was applied here), a list is read again after this.
    max_age=60.0,
)

PAGE = TypeAdapter(Page[RatingInvitation])

# The resident's own data: her app may keep it, and asks again with If-None-Match (a 304 when nothing changed).
PRIVATE_REVALIDATE = "private, no-cache"
