"""The delivery worker: hands due SMS to the sender, one claimed delivery at a time.

Each due SMS is claimed by a guarded write (a lease) in its own transaction, so two workers never send the same
one; the send happens outside any transaction and its outcome is written after. A failure (the provider refused,
or could not be reached) is recorded with the provider's code and tried again after a backoff that doubles, until
``sms_max_attempts``; then it stays ``failed``. The quiet hours are judged again at the send (a retry that falls
in them waits for 08:00), and so is the phone's rate limit (beyond it: ``suppressed``, the inbox has it)."""

import uuid
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking.config import Settings
from booking.notifications import repository
from booking.notifications.models import DeliveryStatus, NotificationDelivery
from booking.residents import service as residents_service
from service_kit import metrics
from service_kit.notify import rules
from service_kit.notify.sms import Sms, SmsFailed, SmsSender, mask_phone
from service_kit.protection import Purpose, keyring_of

log = structlog.get_logger("linli.booking.notifications.delivery")


# The blind index that counts the SMS to one number without storing it again (service_kit.protection: keyed with
# the index key, so a data-key rotation does not reset the counts).
SMS_PHONE = Purpose("sms-phone")


def phone_key(session: AsyncSession, phone: str) -> str:
    return keyring_of(session).blind_index(SMS_PHONE, phone)


async def deliver_due(
    sessionmaker: async_sessionmaker[AsyncSession], sender: SmsSender, *, settings: Settings, now: datetime
) -> int:
    """Send the SMS due at ``now``; the number sent."""
    async with sessionmaker() as session:
        due = await repository.due_sms(session, now, settings.notification_sweep_batch)
    sent = 0
    for delivery_id in due:
        async with sessionmaker() as session:
            claimed = await repository.claim(
                session, delivery_id, now, now + timedelta(seconds=settings.sms_lease_seconds)
            )
            await session.commit()
        if claimed and await _deliver(sessionmaker, sender, delivery_id, settings=settings, now=now):
            sent += 1
    return sent


async def _deliver(
    sessionmaker: async_sessionmaker[AsyncSession],
    sender: SmsSender,
    delivery_id: uuid.UUID,
    *,
    settings: Settings,
    now: datetime,
) -> bool:
    async with sessionmaker() as session:
        delivery = await repository.get_delivery(session, delivery_id)
        assert delivery is not None
        resident = await residents_service.get(session, delivery.resident_id)
        if resident is None or resident.erased_at is not None:
            phone = None
        elif delivery.recipient is not None:
            phone = delivery.to_phone  # someone else, about the resident (an urgent call's escalation)
        else:
            phone = resident.phone
        outcome = await _judge(session, delivery, phone, settings=settings, now=now)
        if outcome is not None:
            await repository.finish(session, delivery_id, {**outcome, "updated_at": now})
            await session.commit()
            return False
        assert phone is not None
        sms = Sms(phone=phone, kind=delivery.kind, params=tuple(delivery.params), text=delivery.text)
        attempts = delivery.attempts + 1
    try:
        message_id = await sender.send(sms)
    except Exception as exc:  # noqa: BLE001 - every failure to send is recorded and retried
        code = exc.code if isinstance(exc, SmsFailed) else type(exc).__name__
        metrics.sms_outcome("booking", sms.kind, exc)
        gave_up = attempts >= settings.sms_max_attempts
        retry_in = timedelta(seconds=settings.sms_retry_base_seconds * 2 ** (attempts - 1))
        values: dict[str, Any] = {
            "status": DeliveryStatus.failed,
            "reason": code[:120],
            "attempts": attempts,
            "next_attempt_at": None if gave_up else now + retry_in,
            "phone_masked": mask_phone(phone),
        }
        log.warning("sms not sent", delivery_id=str(delivery_id), code=code, attempts=attempts, gave_up=gave_up)
        sent = False
    else:
        metrics.sms_outcome("booking", sms.kind, None)
        values = {
            "status": DeliveryStatus.sent,
            "reason": None,
            "attempts": attempts,
            "next_attempt_at": None,
            "sent_at": now,
            "provider_message_id": message_id[:80],
            "phone_masked": mask_phone(phone),
        }
        sent = True
    async with sessionmaker() as session:
        if sent:
            values["phone_key"] = phone_key(session, phone)
        await repository.finish(session, delivery_id, {**values, "updated_at": now})
        await session.commit()
    return sent


async def _judge(
    session: AsyncSession, delivery: NotificationDelivery, phone: str | None, *, settings: Settings, now: datetime
) -> dict[str, Any] | None:
    """Why this SMS does not go now (the values to record), or None when it goes."""
    if phone is None:
        return {"status": DeliveryStatus.suppressed, "reason": "no_phone", "next_attempt_at": None}
    hold = rules.sms_not_before(now, delivery.kind, about=delivery.about_at, quiet_hours=settings.sms_quiet_hours)
    if hold is not None:
        return {"status": DeliveryStatus.deferred, "reason": "quiet_hours", "next_attempt_at": hold}
    limit = rules.RateLimit(settings.sms_rate_limit_count, timedelta(minutes=settings.sms_rate_limit_minutes))
    recent = await repository.sent_to_phone_since(session, phone_key(session, phone), now - limit.window)
    if not limit.allows(recent):
        log.info("sms over the phone's rate limit", delivery_id=str(delivery.id), phone=mask_phone(phone))
        return {
            "status": DeliveryStatus.suppressed,
            "reason": "rate_limited",
            "next_attempt_at": None,
            "phone_masked": mask_phone(phone),
        }
    return None
