from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from booking.models import Base
from service_kit.protection import PHONE, Sealed, SealedColumns


class KnownCommunity(Base):
    """A community of the registry's gazetteer (``community.upserted``): what a resident's ``community_code``
    must name. The registry announces every community at its start and on every change; ``version`` keeps the
    newest."""

    __tablename__ = "known_community"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    street_code: Mapped[str] = mapped_column(String(32))
    name_zh: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]


class CommunityDutyContact(Base):
    """Whom the hotline alerts in a community when one of its residents may be in danger (an urgent call): the
    community's duty phone and who answers it. The gazetteer knows no phones, so the call center keeps these
    itself (``PUT /api/v1/hotline/community-contacts/{code}``); one per known community."""

    __tablename__ = "community_duty_contact"

    community_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    phone_sealed: Mapped[str] = mapped_column(String(120))
    updated_by: Mapped[str] = mapped_column(String(160))
    updated_by_name: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime]

    phone = Sealed("phone_sealed", PHONE)


SEALED = [SealedColumns(CommunityDutyContact, {"phone_sealed": PHONE})]
