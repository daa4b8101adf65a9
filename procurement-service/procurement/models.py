"""The procurement's declarative base; each module's models live in ``<module>/models.py`` and import it."""

from sqlalchemy.orm import DeclarativeBase

from service_kit.db import TYPE_ANNOTATION_MAP, new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


def load_models() -> None:
    """Import every module's models so ``Base.metadata`` is complete (for Alembic)."""
    import procurement.acceptance.models
    import procurement.amendments.models
    import procurement.audit.models
    import procurement.calls.models
    import procurement.contracts.models
    import procurement.deliverables.models
    import procurement.disbursements.models
    import procurement.evaluations.models
    import procurement.funds.models
    import procurement.history.models
    import procurement.kept.models
    import procurement.needs.models
    import procurement.notices.models
    import procurement.providers.models
    import procurement.reviews.models
    import procurement.sanctions.models
    import procurement.supervision.models  # noqa: F401
