"""The procurement's declarative base; each module's models live in ``<module>/models.py`` and import it."""

import importlib
import importlib.util
import pkgutil

from sqlalchemy.orm import DeclarativeBase

import procurement
from service_kit.db import TYPE_ANNOTATION_MAP, new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


def load_models() -> None:
    """Import every module's models so ``Base.metadata`` is complete (for Alembic and the app): each
    ``procurement/<module>/models.py``, found on disk, since every one of them imports this base."""
    for module in pkgutil.iter_modules(procurement.__path__):
        if module.ispkg and importlib.util.find_spec(f"procurement.{module.name}.models") is not None:
            importlib.import_module(f"procurement.{module.name}.models")
