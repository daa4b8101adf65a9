"""Feedback answers as every service does (ready, problems, its OpenAPI document) and documents every module,
Open311's form-encoded requests among them."""

import httpx

from service_kit.testing import check_a_service_answers


async def test_ready_and_documents_every_module(client: httpx.AsyncClient) -> None:
    document = await check_a_service_answers(
        client,
        [
            "/api/v1/complaints/{complaint_id}/reopen",
            "/api/v1/needs/groups",
            "/api/v1/scores/offerings/{offering_id}",
            "/api/v1/complaints/report",
            "/open311/v2/requests.json",
        ],
    )
    form = document["paths"]["/open311/v2/requests.json"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in form
