from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models import Base
from service_kit.db import IdMixin, TimestampMixin


class SignInLockout(IdMixin, TimestampMixin, Base):
    """The failed sign-ins of one target: a staff account (``kind`` "account", ``subject`` its id) or a resident's
    phone (``kind`` "phone", ``subject`` the number's blind index, never the number itself)."""

    __tablename__ = "sign_in_lockout"
    __table_args__ = (UniqueConstraint("kind", "subject"),)

    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(64))
    # Failures since window_started_at (a window of LINLI_SIGN_IN_FAILURE_WINDOW_SECONDS); the last one's time.
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    # Lockouts so far (never reset: what an admin looks at), and when the owner was last told by SMS.
    lockouts: Mapped[int] = mapped_column(default=0)
    notified_at: Mapped[datetime | None]
    # The last unlock by a person (a phone's daily code budget counts from it), and who it was.
    cleared_at: Mapped[datetime | None]
    unlocked_by: Mapped[str | None] = mapped_column(String(120))
