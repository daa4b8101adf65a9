from __future__ import annotations

import uuid

from procurement.auth import ContractViewer, Official
from procurement.clock import Now
from procurement.deliverables import schemas, service
from procurement.deliverables.models import DeliverableReview
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/contracts", tags=["deliverables"])


@router.get(
    "/{contract_id}/deliverables",
    response_model=Page[schemas.Deliverable],
    summary="The services delivered under a contract, one per completed booking, newest first",
    description=(
        "Suspect deliveries (doubtful evidence: far from the place, another staff member than the assigned one, "
        "late) are listed with their reasons and review; they count only once an official accepts them."
    ),
    responses=error_responses(401, 403, 404, 422),
)
async def list_deliverables(
    contract_id: uuid.UUID,
    session: SessionDep,
    principal: ContractViewer,
    page: PaginationDep,
) -> Page[schemas.Deliverable]:
    items, total = await service.list_page(session, contract_id, by=principal, limit=page.limit, offset=page.offset)
    return page.of(items, total)


def _review_route(decision: DeliverableReview, path: str, summary: str) -> None:
    async def review_deliverable(
        contract_id: uuid.UUID,
        deliverable_id: uuid.UUID,
        data: schemas.DeliverableReviewCreate,
        session: SessionDep,
        principal: Official,
        now: Now,
    ) -> schemas.Deliverable:
        return await service.review(
            session, contract_id, deliverable_id, decision, reason=data.reason, by=principal, now=now
        )

    review_deliverable.__name__ = f"{path}_deliverable"
    router.add_api_route(
        f"/{{contract_id}}/deliverables/{{deliverable_id}}/{path}",
        review_deliverable,
        methods=["POST"],
        response_model=schemas.Deliverable,
        summary=summary,
        responses=error_responses(401, 403, 404, 409, 422),
    )


_review_route(
    DeliverableReview.accepted,
    "accept",
    "An official accepts a suspect delivery, with a reason: it then counts (audited; 409 if already reviewed)",
)
_review_route(
    DeliverableReview.rejected,
    "reject",
    "An official rejects a suspect delivery, with a reason: it never counts (audited; 409 if already reviewed)",
)
