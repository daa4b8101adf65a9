"""The real SMS adapter (Tencent Cloud SMS, its official SDK) against a local stand-in for the provider's endpoint:
it receives a correctly formed ``SendSms`` request, and its error answer is a failed delivery, tried again."""

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from booking.config import Settings
from booking.notifications.models import DeliveryStatus
from service_kit.events.contracts import NeedStatusChanged
from service_kit.notify.settings import sms_sender
from service_kit.notify.tencent import TencentSmsSender

TEMPLATE_IDS = {"booking_confirmed": "2071001", "booking_cancelled": "2071002"}


class ProviderStandIn(ThreadingHTTPServer):
    """Stands in for ``sms.tencentcloudapi.com``: records each request, answers with the next queued answer."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []

    @property
    def endpoint(self) -> str:
        host, port = self.server_address[:2]
        return f"{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: ProviderStandIn

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"headers": dict(self.headers), "body": body})
        answer = self.server.answers.pop(0) if self.server.answers else _ok(body)
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _ok(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "Response": {
            "SendStatusSet": [
                {
                    "SerialNo": "5000:1045710669157053657849499619",
                    "PhoneNumber": body["PhoneNumberSet"][0],
                    "Fee": 1,
                    "SessionContext": "",
                    "Code": "Ok",
                    "Message": "send success",
                    "IsoCode": "CN",
                }
            ],
            "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279",
        }
    }


def _error(code: str) -> dict[str, Any]:
    return {
        "Response": {
            "Error": {"Code": code, "Message": "the provider refused"},
            "RequestId": "b1bbcee7-d0a2-4a4f-b92a-a209225b3380",
        }
    }


@pytest.fixture
def provider() -> Iterator[ProviderStandIn]:
    server = ProviderStandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def tencent(provider: ProviderStandIn, service_env: dict[str, Any]) -> TencentSmsSender:
    settings = Settings(
        **service_env,
        sms_sender="tencent",
        sms_tencent_secret_id="AKIDtest",
        sms_tencent_secret_key="test-secret-key",
        sms_tencent_app_id="1400006666",
        sms_tencent_sign_name="邻里社区",
        sms_tencent_endpoint=provider.endpoint,
        sms_tencent_scheme="http",
        sms_template_ids=TEMPLATE_IDS,
    )
    sender = sms_sender(settings)
    assert isinstance(sender, TencentSmsSender)
    return sender


async def test_the_provider_receives_the_template_its_parameters_and_the_phone(
    notes: Any, provider: ProviderStandIn, tencent: TencentSmsSender
) -> None:
    world = notes.world
    offering = await world.offering(name_zh="助浴服务")
    resident = await world.resident(phone="13900001111")
    slot = world.at(world.tomorrow(), 9)
    assert await notes.apply(notes.confirmed(offering, resident, slot))
    assert await notes.deliver(tencent) == 1
    (request,) = provider.requests
    assert request["headers"]["X-TC-Action"] == "SendSms"
    assert request["headers"]["X-TC-Version"] == "2021-01-11"
    assert request["headers"]["Authorization"].startswith("TC3-HMAC-SHA256 Credential=AKIDtest/")
    assert request["body"] == {
        "PhoneNumberSet": ["+8613900001111"],
        "SmsSdkAppId": "1400006666",
        "SignName": "邻里社区",
        "TemplateId": "2071001",
        "TemplateParamSet": ["助浴服务", f"{slot.month}月{slot.day}日 09:00"],
    }
    (sms,) = await notes.sms(resident)
    assert (sms.status, sms.provider_message_id) == (DeliveryStatus.sent, "5000:1045710669157053657849499619")


async def test_an_error_answer_is_a_failed_delivery_and_is_tried_again(
    notes: Any, provider: ProviderStandIn, tencent: TencentSmsSender
) -> None:
    world = notes.world
    offering = await world.offering()
    resident = await world.resident(phone="13900001111")
    assert await notes.apply(notes.confirmed(offering, resident, world.at(world.tomorrow(), 9)))
    provider.answers.append(_error("FailedOperation.InsufficientBalanceInSmsPackage"))
    assert await notes.deliver(tencent) == 0
    (sms,) = await notes.sms(resident)
    assert (sms.status, sms.reason, sms.attempts) == (
        DeliveryStatus.failed,
        "FailedOperation.InsufficientBalanceInSmsPackage",
        1,
    )
    # A per-number refusal inside a good answer is a failure too.
    provider.answers.append(
        {"Response": {"SendStatusSet": [{"Code": "InvalidParameterValue.IncorrectPhoneNumber", "Message": "bad"}]}}
    )
    notes.clock.advance(seconds=notes.settings.sms_retry_base_seconds)
    assert await notes.deliver(tencent) == 0
    (sms,) = await notes.sms(resident)
    assert (sms.reason, sms.attempts) == ("InvalidParameterValue.IncorrectPhoneNumber", 2)
    notes.clock.advance(seconds=2 * notes.settings.sms_retry_base_seconds)
    assert await notes.deliver(tencent) == 1
    (sms,) = await notes.sms(resident)
    assert (sms.status, sms.attempts) == (DeliveryStatus.sent, 3)
    assert len(provider.requests) == 3


async def test_a_kind_without_a_registered_template_fails_without_calling_the_provider(
    notes: Any, provider: ProviderStandIn, tencent: TencentSmsSender
) -> None:
    world = notes.world
    resident = await world.resident()
    need = NeedStatusChanged(
        need_id=uuid.uuid4(),
        resident_id=uuid.UUID(resident["id"]),
        status="received",
        occurred_at=notes.clock(),
    )
    assert await notes.apply(need, source="feedback")
    assert await notes.deliver(tencent) == 0
    (sms,) = await notes.sms(resident)
    assert (sms.status, sms.reason) == (DeliveryStatus.failed, "NoTemplate")
    assert provider.requests == []
