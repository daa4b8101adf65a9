"""The registry answers as every service does (ready, problems, its OpenAPI document) and describes its API."""

import httpx

from service_kit.testing import check_a_service_answers


async def test_ready_and_describes_its_api(client: httpx.AsyncClient) -> None:
    await check_a_service_answers(
        client,
        [
            "/api/v1/organizations",
            "/api/v1/organizations/{organization_id}/verify",
            "/api/v1/categories",
            "/api/v1/offerings",
            "/api/v1/offerings/{offering_id}/publish",
        ],
    )
