"""The feedback's declarative base; each module's models live in ``<module>/models.py`` and import it."""

from sqlalchemy.orm import DeclarativeBase

from service_kit.db import TYPE_ANNOTATION_MAP, new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


def load_models() -> None:
    """Import every module's models so ``Base.metadata`` is complete (for Alembic)."""
    import feedback.complaints.models
    import feedback.documents
    import feedback.needs.models
    import feedback.ratings.models
    import feedback.reference.models
    import feedback.residents.models
    import feedback.scores.models  # noqa: F401
