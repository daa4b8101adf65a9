"""A resident's inbox and message preferences (their own only), and the admins' view of the fake SMS sender."""

import uuid
from typing import Annotated

from fastapi import Depends

from booking.clock import Now
from booking.deps import Caller
from booking.notifications import schemas as s
from booking.notifications import service
from service_kit import phones
from service_kit.auth import Role
from service_kit.db import SessionDep
from service_kit.errors import Forbidden, error_responses
from service_kit.notify.outbox import fake_outbox_router
from service_kit.pagination import PaginationDep
from service_kit.routing import service_router
from service_kit.settings import running_settings

router = service_router(prefix="/api/v1/notifications", tags=["notifications"])


async def own_resident_id(caller: Caller) -> uuid.UUID:
    """The caller's resident record: only a resident has an inbox (staff act on a resident's behalf elsewhere)."""
    if not caller.has_any(Role.resident) or caller.has_any(Role.operator, Role.admin) or caller.resident_id is None:
        raise Forbidden("Only a resident signed in by phone has messages.", code="role_forbidden")
    return caller.resident_id


Recipient = Annotated[uuid.UUID, Depends(own_resident_id)]


@router.get(
    "",
    response_model=s.NotificationPage,
    responses=error_responses(401, 403, 422),
    summary="The resident's own messages, newest first, with how many are unread",
)
async def list_notifications(resident_id: Recipient, session: SessionDep, page: PaginationDep) -> s.NotificationPage:
    return await service.inbox(session, resident_id, limit=page.limit, offset=page.offset)


@router.post(
    "/read-all",
    response_model=s.ReadAll,
    responses=error_responses(401, 403),
    summary="Mark all of the resident's messages read",
)
async def read_all_notifications(resident_id: Recipient, session: SessionDep, now: Now) -> s.ReadAll:
    return await service.read_all(session, resident_id, now=now)


@router.get(
    "/preferences",
    response_model=s.Preferences,
    responses=error_responses(401, 403),
    summary="Which kinds of message also come by SMS, and whether helpers get a copy",
)
async def get_preferences(resident_id: Recipient, session: SessionDep) -> s.Preferences:
    return await service.preferences(session, resident_id)


@router.put(
    "/preferences",
    response_model=s.Preferences,
    responses=error_responses(401, 403, 422),
    summary="Turn SMS on or off per kind of message (the inbox always gets every message), and helpers' copies",
    description="A kind that does not exist is 422 `unknown_message_kind` (field `sms.<kind>`), and nothing changes.",
)
async def put_preferences(
    resident_id: Recipient, body: s.PreferencesUpdate, session: SessionDep, now: Now
) -> s.Preferences:
    return await service.set_preferences(session, resident_id, body, now=now)


@router.post(
    "/{notification_id}/read",
    response_model=s.Notification,
    responses=error_responses(401, 403, 404),
    summary="Mark one of the resident's own messages read (another's is 404)",
)
async def read_notification(
    notification_id: uuid.UUID, resident_id: Recipient, session: SessionDep, now: Now
) -> s.Notification:
    return await service.read(session, notification_id, resident_id, now=now)


# What the fake SMS sender "sent" to residents (admin, not in production; phones masked): the kit's one view.
router.include_router(
    fake_outbox_router(
        "/sms-outbox",
        sender_of=lambda request: request.app.state.sms_sender,
        is_production=lambda request: running_settings(request).environment == "production",
        normalize_phone=phones.normalize,
        tags=["notifications"],
        operation_id="listNotificationSms",
    )
)
