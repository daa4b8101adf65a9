import uuid

from feedback.scores import service
from feedback.scores.schemas import OfferingScore, ProviderScore
from service_kit.db import ReadSessionDep
from service_kit.errors import error_responses
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/scores", tags=["scores"])


@router.get(
    "/providers/{provider_id}",
    response_model=ProviderScore,
    summary="A provider's score: Bayesian average, count, distribution, complaint and no-show rates",
    responses=error_responses(422),
)
async def get_provider_score(session: ReadSessionDep, provider_id: uuid.UUID) -> ProviderScore:
    return await service.score_of_provider(session, provider_id)


@router.get(
    "/offerings/{offering_id}",
    response_model=OfferingScore,
    summary="An offering's score: Bayesian average, count, distribution, complaint and no-show rates",
    responses=error_responses(422),
)
async def get_offering_score(session: ReadSessionDep, offering_id: uuid.UUID) -> OfferingScore:
    return await service.score_of_offering(session, offering_id)
