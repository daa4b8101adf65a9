from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from registry.models import Announced, Base


class Category(Announced, Base):
    """A category; top-level ones group leaves, and offerings belong to leaves. Seeded by a migration, announced
    to the other services as ``category.upserted`` (``registry.reference``)."""

    __tablename__ = "category"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("category.code"), index=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(default=0)
    # The qualification kind a provider must hold, valid, to publish an offering of this category (or of any
    # of its leaves, when set on a top-level category); None: no license needed.
    required_qualification: Mapped[str | None] = mapped_column(String(40))
