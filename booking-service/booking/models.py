"""The booking's declarative base; each module's models live in ``<module>/models.py`` and import it."""

from sqlalchemy.orm import DeclarativeBase

from service_kit.db import TYPE_ANNOTATION_MAP, new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


def load_models() -> None:
    """Import every module's models so ``Base.metadata`` is complete (for Alembic)."""
    import booking.audit.models
    import booking.bookings.models
    import booking.calls.models
    import booking.catalog.models
    import booking.communities.models
    import booking.documents
    import booking.entitlements.models
    import booking.notifications.models
    import booking.replacements.models
    import booking.residents.models
    import booking.rules.models
    import booking.series.models
    import booking.urgent.models
    import booking.waitlist.models
    import booking.worklist.models  # noqa: F401
