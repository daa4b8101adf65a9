"""The registry's declarative base; each module's models live in ``<module>/models.py`` and import it."""

from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from service_kit.db import TYPE_ANNOTATION_MAP, new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class Announced:
    """Reference data other services keep a copy of, announced by event (``registry.reference``): ``version``
    grows with every change of the row, ``announced_version`` is the version last emitted. A row whose
    ``announced_version`` is behind (one that existed before the events did) is announced by the start-up job."""

    version: Mapped[int] = mapped_column(default=1, server_default="1")
    announced_version: Mapped[int] = mapped_column(default=0, server_default="0")


def load_models() -> None:
    """Import every module's models so ``Base.metadata`` is complete (for Alembic)."""
    import registry.categories.models
    import registry.offerings.models
    import registry.organizations.models
    import registry.places.models
    import registry.qualifications.models
    import registry.webhooks.models  # noqa: F401
