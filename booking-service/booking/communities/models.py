from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from booking.models import Base


class KnownCommunity(Base):
    """A community of the registry's gazetteer (``community.upserted``): what a resident's ``community_code``
    must name. The registry announces every community at its start and on every change; ``version`` keeps the
    newest."""

    __tablename__ = "known_community"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    street_code: Mapped[str] = mapped_column(String(32))
    name_zh: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]
