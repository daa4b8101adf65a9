"""The evaluation's weights, the sanction threshold and its rounds come from the service's settings."""

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from lifecycle_builders import evaluate
from procurement_builders import contract_body, signed_contract
from pydantic import ValidationError
from sourcing_builders import official

from procurement.app import SERVICE_DIR
from procurement.config import Settings
from service_kit.testing import DatabaseFactory, TestKeys


@pytest.fixture
def settings(service_env: dict[str, Any], database_factory: DatabaseFactory) -> Settings:
    return Settings(
        **service_env,
        database_url=database_factory.new(SERVICE_DIR),
        evaluation_weight_purchaser=50,
        evaluation_weight_recipients=20,
        evaluation_weight_third_party=30,
        sanction_score_threshold=85,
        sanction_rounds=1,
    )


async def test_weights_threshold_and_rounds_follow_the_settings(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    provider_id = uuid.uuid4()
    contract = await signed_contract(app, client, test_keys, contract_body(provider_id))
    await evaluate(client, test_keys, contract["id"], "midterm", purchaser=90, third_party=90)
    final = await evaluate(client, test_keys, contract["id"], "final", purchaser=90, third_party=70)
    # No ratings: 50 and 30 share the whole, (50 × 90 + 30 × 70) / 80 = 82.5, below the threshold of 85.
    assert final["weights"] == {"purchaser": 62.5, "recipients": 0, "third_party": 37.5}
    assert final["combined_score"] == 82.5
    sanctions = await client.get(f"/api/v1/sanctions?provider_id={provider_id}", headers=official(test_keys))
    (sanction,) = sanctions.json()["items"]
    assert (sanction["cause"], sanction["rounds"]) == ("final_score_below_threshold", 1)


def test_weights_must_sum_to_100() -> None:
    with pytest.raises(ValidationError, match="sum to 90"):
        Settings(evaluation_weight_purchaser=30)
