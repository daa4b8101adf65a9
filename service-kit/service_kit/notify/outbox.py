"""The admin view of what the fake SMS sender recorded (dev and tests; 404 in production): one mechanism,
mounted by the gateway (sign-in codes) and by booking (residents' messages) at their own paths."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from service_kit.auth import Principal, Role, require_roles
from service_kit.errors import NotFound, error_responses
from service_kit.notify.sms import FakeSmsSender, SentSms, mask_phone
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router


class RecordedSms(BaseModel):
    """A text message the fake SMS sender recorded instead of sending."""

    phone: str
    kind: str
    text: str
    sent_at: datetime


def fake_outbox_router(
    path: str,
    *,
    sender_of: Callable[[Request], object],
    is_production: Callable[[Request], bool],
    normalize_phone: Callable[[str], str],
    tags: list[str | Enum],
    operation_id: str,
    show_full_phone: bool = False,
) -> APIRouter:
    """``GET path``: the fake sender's messages, newest first, optionally to one ``phone`` (admin only). The
    gateway's copy shows full phones (a developer signs in with the code sent there); others mask them."""
    router = service_router(tags=tags)

    @router.get(
        path,
        response_model=Page[RecordedSms],
        responses=error_responses(401, 403, 404, 422),
        summary="Messages the fake SMS sender recorded, newest first (admin; not in production)",
        # The gateway's and booking's copies are both in the aggregated document: each names itself.
        operation_id=operation_id,
    )
    async def list_recorded_sms(
        request: Request,
        _admin: Annotated[Principal, Depends(require_roles(Role.admin))],
        page: PaginationDep,
        phone: Annotated[str | None, Query(min_length=3, max_length=32)] = None,
    ) -> Page[RecordedSms]:
        sender = sender_of(request)
        if is_production(request) or not isinstance(sender, FakeSmsSender):
            raise NotFound("Linli has no endpoint at this path.")
        messages: list[SentSms] = sender.sent_to(normalize_phone(phone)) if phone else sender.recorded()
        messages.reverse()
        chosen = messages[page.offset : page.offset + page.limit]
        return page.of(
            [
                RecordedSms(
                    phone=m.phone if show_full_phone else mask_phone(m.phone),
                    kind=m.kind,
                    text=m.text,
                    sent_at=m.sent_at,
                )
                for m in chosen
            ],
            len(messages),
        )

    return router
