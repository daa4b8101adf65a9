"""Which SMS sender a service uses and how it reaches the provider; mixed into a service's settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings

from service_kit.notify.sms import FakeSmsSender, SmsSender


class SmsSettings(BaseSettings):
    """``LINLI_SMS_*``. ``fake`` (dev and tests) records messages and sends none; ``tencent`` sends through
    Tencent Cloud SMS, which takes only registered templates: ``sms_template_ids`` maps each message kind
    (``service_kit.notify.templates.TEMPLATES``) to its template id, e.g.
    ``LINLI_SMS_TEMPLATE_IDS='{"booking_confirmed": "2071234", ...}'``."""

    sms_sender: Literal["fake", "tencent"] = "fake"
    sms_tencent_secret_id: str = ""
    sms_tencent_secret_key: SecretStr = SecretStr("")
    sms_tencent_app_id: str = ""
    sms_tencent_sign_name: str = "邻里"
    sms_tencent_region: str = "ap-guangzhou"
    # The API's host; ``http`` only for a local stand-in of the provider in tests.
    sms_tencent_endpoint: str = "sms.tencentcloudapi.com"
    sms_tencent_scheme: Literal["https", "http"] = "https"
    sms_tencent_timeout_seconds: int = Field(10, ge=1, le=60)
    sms_template_ids: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _tencent_is_configured(self) -> SmsSettings:
        # Mixed into a service's settings, which say where it runs: residents must really receive their messages.
        if self.sms_sender == "fake" and getattr(self, "environment", None) == "production":
            raise ValueError("the fake SMS sender sends nothing: production needs LINLI_SMS_SENDER=tencent")
        if self.sms_sender == "tencent":
            missing = [
                name
                for name, value in (
                    ("LINLI_SMS_TENCENT_SECRET_ID", self.sms_tencent_secret_id),
                    ("LINLI_SMS_TENCENT_SECRET_KEY", self.sms_tencent_secret_key.get_secret_value()),
                    ("LINLI_SMS_TENCENT_APP_ID", self.sms_tencent_app_id),
                    ("LINLI_SMS_TEMPLATE_IDS", self.sms_template_ids),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"the tencent SMS sender needs {', '.join(missing)}")
        return self


def sms_sender(settings: SmsSettings) -> SmsSender:
    """The sender ``settings.sms_sender`` names."""
    if settings.sms_sender == "tencent":
        from service_kit.notify.tencent import TencentSmsSender

        return TencentSmsSender.from_settings(settings)
    # A service's API and its worker (a process of its own) record into one file under the service's var folder.
    var_dir, service = getattr(settings, "var_dir", None), getattr(settings, "service_name", None)
    if var_dir is None or not service:
        return FakeSmsSender()
    return FakeSmsSender(shared=Path(var_dir) / f"sms-outbox-{service}.jsonl")
