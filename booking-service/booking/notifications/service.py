"""The rules of messages to residents: who gets one, on which channel, and whether its SMS goes now, waits for
08:00 or not at all; reading the inbox and the preferences."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from booking.notifications import repository
from booking.notifications import schemas as s
from booking.notifications.models import (
    Channel,
    DeliveryStatus,
    Notification,
    NotificationDelivery,
    NotificationHelper,
    NotificationPreference,
)
from booking.residents import service as residents_service
from service_kit.errors import NotFound, ValidationFailed
from service_kit.notify import rules, templates
from service_kit.pagination import fetch_page
from service_kit.protection import PHONE, keyring_of

log = structlog.get_logger("linli.booking.notifications")


def _not_found() -> NotFound:
    return NotFound("No such message.", code="notification_not_found")


async def notify(
    session: AsyncSession,
    *,
    resident_id: uuid.UUID,
    kind: str,
    values: Mapping[str, str],
    event_id: str,
    subject_id: uuid.UUID | None,
    now: datetime,
    about_at: datetime | None = None,
    quiet_hours: bool = True,
) -> int:
    """Tell ``resident_id`` (and each helper who copies them) of one thing: an inbox message each, and an SMS each
    as their preferences, the quiet hours and the phone allow. Runs in the caller's transaction; a second call for
    the same ``event_id`` and recipient adds nothing. The number of messages written."""
    resident = await residents_service.get_to_message(session, resident_id)
    if resident is None:
        return 0
    message = templates.render(kind, **values)
    fate = _SmsTiming(now=now, about_at=about_at, quiet_hours=quiet_hours)
    written = await _write(session, resident_id, None, message, message.text, event_id, subject_id, fate)
    preference = await repository.preference(session, resident_id)
    if preference is not None and not preference.copy_helpers:
        return written
    for helper_id in await repository.active_helpers(session, resident_id):
        helper = await residents_service.get(session, helper_id)
        if helper is None or helper.erased_at is not None:
            continue
        body = f"（{resident.name}）{message.text}"
        sms = templates.render("helper_copy", name=resident.name, title=message.title)
        written += await _write(session, helper_id, resident_id, message, body, event_id, subject_id, fate, sms=sms)
    return written


async def _write(
    session: AsyncSession,
    recipient_id: uuid.UUID,
    about_resident_id: uuid.UUID | None,
    message: templates.Rendered,
    body: str,
    event_id: str,
    subject_id: uuid.UUID | None,
    timing: "_SmsTiming",
    *,
    sms: templates.Rendered | None = None,
) -> int:
    """The inbox message and its SMS (``sms``: what the phone shows, when it is not the message itself)."""
    now, about_at = timing.now, timing.about_at
    sms = sms or message
    if await repository.notification_exists(session, event_id, recipient_id):
        return 0
    notification = Notification(
        resident_id=recipient_id,
        about_resident_id=about_resident_id,
        kind=message.kind,
        title=message.title,
        body=body,
        event_id=event_id,
        subject_id=subject_id,
        created_at=now,
    )
    session.add(notification)
    await session.flush()
    status, reason, next_at = await _sms_fate(session, recipient_id, message.kind, timing)
    for channel, shown, channel_status, channel_reason, channel_next in (
        (Channel.inbox, message, DeliveryStatus.sent, None, None),
        (Channel.sms, sms, status, reason, next_at),
    ):
        session.add(
            NotificationDelivery(
                notification_id=notification.id,
                event_id=event_id,
                resident_id=recipient_id,
                channel=channel,
                kind=shown.kind,
                params=list(shown.params),
                text=shown.sms_text,
                about_at=about_at,
                status=channel_status,
                reason=channel_reason,
                attempts=0,
                next_attempt_at=channel_next,
                sent_at=now if channel is Channel.inbox else None,
                created_at=now,
                updated_at=now,
            )
        )
    await session.flush()
    log.info("message written", kind=message.kind, notification_id=str(notification.id), sms=status.value)
    return 1


@dataclass(frozen=True)
class _SmsTiming:
    now: datetime
    about_at: datetime | None
    quiet_hours: bool


async def _sms_fate(
    session: AsyncSession, resident_id: uuid.UUID, kind: str, timing: _SmsTiming
) -> tuple[DeliveryStatus, str | None, datetime | None]:
    resident = await residents_service.get(session, resident_id)
    if resident is None or resident.phone is None:
        return DeliveryStatus.suppressed, "no_phone", None
    preference = await repository.preference(session, resident_id)
    if preference is not None and kind in preference.sms_off:
        return DeliveryStatus.suppressed, "sms_off", None
    hold = rules.sms_not_before(timing.now, kind, about=timing.about_at, quiet_hours=timing.quiet_hours)
    if hold is not None:
        return DeliveryStatus.deferred, "quiet_hours", hold
    return DeliveryStatus.pending, None, timing.now


async def message_phone(
    session: AsyncSession,
    *,
    about_resident_id: uuid.UUID,
    recipient: str,
    phone: str | None,
    kind: str,
    values: Mapping[str, str],
    event_id: str,
    now: datetime,
) -> NotificationDelivery:
    """An SMS about a resident to someone else's ``phone`` (E.164; ``recipient`` says who: ``emergency_contact``,
    ``community_duty``), with no inbox message; suppressed (``no_phone``) when there is no number. Runs in the
    caller's transaction; a second call for the same ``event_id`` and recipient returns the first's delivery."""
    existing = await repository.delivery_of(session, event_id, about_resident_id, Channel.sms)
    if existing is not None:
        return existing
    message = templates.render(kind, **values)
    hold = rules.sms_not_before(now, kind)
    if phone is None:
        status, reason, next_at = DeliveryStatus.suppressed, "no_phone", None
    elif hold is not None:
        status, reason, next_at = DeliveryStatus.deferred, "quiet_hours", hold
    else:
        status, reason, next_at = DeliveryStatus.pending, None, now
    delivery = NotificationDelivery(
        notification_id=None,
        event_id=event_id,
        resident_id=about_resident_id,
        channel=Channel.sms,
        kind=message.kind,
        params=list(message.params),
        text=message.sms_text,
        status=status,
        reason=reason,
        attempts=0,
        next_attempt_at=next_at,
        recipient=recipient,
        to_phone_sealed=keyring_of(session).seal(PHONE, phone) if phone else None,
        created_at=now,
        updated_at=now,
    )
    session.add(delivery)
    await session.flush()
    log.info("message to a phone written", kind=kind, recipient=recipient, sms=status.value)
    return delivery


async def deliveries_by_event(
    session: AsyncSession, resident_id: uuid.UUID, event_ids: list[str]
) -> dict[str, NotificationDelivery]:
    """The SMS of these events about ``resident_id``, by event id: what became of each."""
    return {d.event_id: d for d in await repository.sms_of_events(session, resident_id, event_ids)}


# ---------------------------------------------------------------- helpers (who copies whom)


async def record_helper(
    session: AsyncSession,
    *,
    grant_id: uuid.UUID,
    resident_id: uuid.UUID,
    helper_resident_id: uuid.UUID,
    active: bool,
    as_of: datetime,
) -> None:
    """Keep who copies whom; an event older than what is stored changes nothing (events may come out of order)."""
    link = await repository.helper_link(session, resident_id, helper_resident_id)
    if link is None:
        session.add(
            NotificationHelper(
                resident_id=resident_id,
                helper_resident_id=helper_resident_id,
                grant_id=grant_id,
                active=active,
                as_of=as_of,
            )
        )
    elif as_of >= link.as_of:
        link.grant_id, link.active, link.as_of = grant_id, active, as_of
    await session.flush()


# ---------------------------------------------------------------- the inbox


def _to_schema(notification: Notification, deliveries: list[NotificationDelivery]) -> s.Notification:
    return s.Notification(
        id=notification.id,
        kind=notification.kind,
        title=notification.title,
        body=notification.body,
        subject_id=notification.subject_id,
        about_resident_id=notification.about_resident_id,
        created_at=notification.created_at,
        read_at=notification.read_at,
        deliveries=[
            s.Delivery(channel=d.channel.value, status=d.status.value, reason=d.reason, attempts=d.attempts)
            for d in deliveries
            if d.notification_id == notification.id
        ],
    )


async def inbox(session: AsyncSession, resident_id: uuid.UUID, *, limit: int, offset: int) -> s.NotificationPage:
    rows, total = await fetch_page(session, repository.inbox_of(resident_id), limit=limit, offset=offset)
    deliveries = await repository.deliveries_of(session, [n.id for n in rows])
    return s.NotificationPage(
        items=[_to_schema(n, deliveries) for n in rows],
        total=total,
        limit=limit,
        offset=offset,
        unread_count=await repository.unread_count(session, resident_id),
    )


async def read(
    session: AsyncSession, notification_id: uuid.UUID, resident_id: uuid.UUID, *, now: datetime
) -> s.Notification:
    """Mark one of the resident's own messages read; another's is 404, as one that does not exist."""
    notification = await repository.get_own(session, notification_id, resident_id)
    if notification is None:
        raise _not_found()
    await repository.mark_read(session, notification_id, now)
    await session.refresh(notification)
    return _to_schema(notification, await repository.deliveries_of(session, [notification.id]))


async def read_all(session: AsyncSession, resident_id: uuid.UUID, *, now: datetime) -> s.ReadAll:
    marked = await repository.mark_all_read(session, resident_id, now)
    return s.ReadAll(marked=marked, unread_count=await repository.unread_count(session, resident_id))


async def preferences(session: AsyncSession, resident_id: uuid.UUID) -> s.Preferences:
    stored = await repository.preference(session, resident_id)
    off = set(stored.sms_off) if stored is not None else set()
    return s.Preferences(
        sms={kind: kind not in off for kind in templates.RESIDENT_KINDS},
        copy_helpers=stored.copy_helpers if stored is not None else True,
    )


async def set_preferences(
    session: AsyncSession, resident_id: uuid.UUID, data: s.PreferencesUpdate, *, now: datetime
) -> s.Preferences:
    unknown = sorted(set(data.sms or {}) - set(templates.RESIDENT_KINDS))
    if unknown:
        field = f"sms.{unknown[0]}"
        message = f"No such kind of message: {unknown[0]}."
        raise ValidationFailed(
            f"{field}: {message}",
            code="unknown_message_kind",
            errors=[{"field": field, "in": "body", "message": message, "type": "unknown_message_kind"}],
        )
    stored = await repository.preference(session, resident_id)
    if stored is None:
        stored = NotificationPreference(resident_id=resident_id, sms_off=[], copy_helpers=True, updated_at=now)
        session.add(stored)
    if data.sms is not None:
        off = set(stored.sms_off)
        for kind, wanted in data.sms.items():
            (off.discard if wanted else off.add)(kind)
        stored.sms_off = sorted(off)
    if data.copy_helpers is not None:
        stored.copy_helpers = data.copy_helpers
    stored.updated_at = now
    await session.flush()
    return await preferences(session, resident_id)
