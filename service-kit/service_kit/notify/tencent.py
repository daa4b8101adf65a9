"""The real SMS sender: Tencent Cloud SMS (API 2021-01-11, ``SendSms``) through its official Python SDK.

The SDK is synchronous (``requests``): each send runs in a worker thread. A refused request (an error answer,
or a per-number status other than ``Ok``) raises ``SmsFailed`` with the provider's code, which the caller
records on the delivery and retries later."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from service_kit.notify.settings import SmsSettings
from service_kit.notify.sms import Sms, SmsFailed, mask_phone

log = structlog.get_logger("linli.sms.tencent")


@dataclass
class TencentSmsSender:
    client: sms_client.SmsClient
    app_id: str
    sign_name: str
    template_ids: dict[str, str]

    @classmethod
    def from_settings(cls, settings: SmsSettings) -> TencentSmsSender:
        cred = credential.Credential(settings.sms_tencent_secret_id, settings.sms_tencent_secret_key.get_secret_value())
        http = HttpProfile(
            protocol=settings.sms_tencent_scheme,
            endpoint=settings.sms_tencent_endpoint,
            reqTimeout=settings.sms_tencent_timeout_seconds,
        )
        client = sms_client.SmsClient(cred, settings.sms_tencent_region, ClientProfile(httpProfile=http))
        return cls(
            client=client,
            app_id=settings.sms_tencent_app_id,
            sign_name=settings.sms_tencent_sign_name,
            template_ids=dict(settings.sms_template_ids),
        )

    async def send(self, sms: Sms) -> str:
        template_id = self.template_ids.get(sms.kind)
        if template_id is None:
            raise SmsFailed("NoTemplate", f"no template id is configured for {sms.kind}")
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [sms.phone]
        request.SmsSdkAppId = self.app_id
        request.SignName = self.sign_name
        request.TemplateId = template_id
        request.TemplateParamSet = list(sms.params)
        try:
            response = await asyncio.to_thread(self.client.SendSms, request)
        except TencentCloudSDKException as exc:
            log.warning("sms refused", kind=sms.kind, phone=mask_phone(sms.phone), code=exc.code)
            raise SmsFailed(exc.code or "Unknown", exc.message or "") from None
        statuses = response.SendStatusSet or []
        if not statuses:
            raise SmsFailed("NoStatus", "the provider answered without a send status")
        status = statuses[0]
        if status.Code != "Ok":
            log.warning("sms refused", kind=sms.kind, phone=mask_phone(sms.phone), code=status.Code)
            raise SmsFailed(status.Code or "Unknown", status.Message or "")
        return str(status.SerialNo or response.RequestId or "")
