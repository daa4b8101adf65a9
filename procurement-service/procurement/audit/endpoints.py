from __future__ import annotations

import uuid

from procurement.audit import schemas, service
from procurement.auth import OfficialReader
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/audit-trail", tags=["audit"])


@router.get(
    "/{subject_id}",
    response_model=Page[schemas.AuditEntry],
    summary="Every recorded change to a fund, need, call, application, review, notice, contract or sanction, "
    "oldest first",
    responses=error_responses(401, 403, 404, 422),
)
async def audit_trail(
    subject_id: uuid.UUID, session: SessionDep, principal: OfficialReader, page: PaginationDep
) -> Page[schemas.AuditEntry]:
    entries, total = await service.entries_for(session, subject_id, by=principal, limit=page.limit, offset=page.offset)
    return page.of([schemas.AuditEntry.model_validate(e) for e in entries], total)
