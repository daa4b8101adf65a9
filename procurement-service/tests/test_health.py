"""Procurement answers as every service does (ready, problems, its OpenAPI document) and documents its contracts."""

import httpx

from service_kit.testing import check_a_service_answers


async def test_ready_and_documents_the_contract_routes(client: httpx.AsyncClient) -> None:
    await check_a_service_answers(
        client,
        [
            "/api/v1/contracts",
            "/api/v1/contracts/{contract_id}",
            "/api/v1/contracts/{contract_id}/sign",
            "/api/v1/contracts/{contract_id}/direct-award/approve",
            "/api/v1/contracts/{contract_id}/direct-award/reject",
            "/api/v1/contracts/{contract_id}/terminate",
            "/api/v1/contracts/{contract_id}/history",
            "/api/v1/contracts/{contract_id}/deliverables",
        ],
    )
