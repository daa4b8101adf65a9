"""The evaluation's weights, the attainment threshold, the sanction threshold and its rounds come from settings."""

import uuid

import httpx
import pytest
from fastapi import FastAPI
from lifecycle_builders import deliver_services, evaluate
from nats.js import JetStreamContext
from procurement_builders import contract_body, signed_contract
from pydantic import ValidationError
from sourcing_builders import official

from procurement.app import SERVICE_DIR
from procurement.config import Settings
from service_kit.testing import TestKeys, service_settings

settings = service_settings(
    Settings,
    SERVICE_DIR,
    evaluation_weight_quantity=50,
    evaluation_weight_recipients=10,
    evaluation_weight_fund_use=0,
    evaluation_weight_purchaser=20,
    evaluation_weight_third_party=20,
    acceptance_attainment_threshold=50,
    sanction_score_threshold=85,
    sanction_rounds=1,
)


async def test_weights_thresholds_and_rounds_follow_the_settings(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    provider_id = uuid.uuid4()
    body = contract_body(provider_id)
    body["funded_offerings"][0]["quota"] = 10
    contract = await signed_contract(app, client, test_keys, body)
    await evaluate(client, test_keys, contract["id"], "midterm", purchaser=90, third_party=90)
    await deliver_services(app, js, contract, 6)
    final = await evaluate(client, test_keys, contract["id"], "final", purchaser=90, third_party=70)
    # 50% × 60 + 10% × nothing (no ratings) + 20% × 90 + 20% × 70 = 62: attainment passes its 50%, the score
    # not its 85.
    assert final["parts"]["quantity"]["weight"] == 50
    assert final["combined_score"] == 62
    assert (final["attainment_threshold"], final["result"]) == (50, "failed")
    sanctions = await client.get(f"/api/v1/sanctions?provider_id={provider_id}", headers=official(test_keys))
    (sanction,) = sanctions.json()["items"]
    assert (sanction["cause"], sanction["rounds"]) == ("final_score_below_threshold", 1)


def test_weights_must_sum_to_100() -> None:
    with pytest.raises(ValidationError, match="sum to 110"):
        Settings(evaluation_weight_purchaser=30)
