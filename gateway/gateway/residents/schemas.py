from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class OtpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = Field(min_length=3, max_length=32, examples=["138 1234 5678"])


class OtpSent(BaseModel):
    phone: str = Field(description="The number the code went to, in E.164")
    expires_in: int = Field(description="Seconds the code stays valid")


class OtpVerify(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = Field(min_length=3, max_length=32)
    code: str = Field(pattern=r"^\d{6}$")


class SmsMessage(BaseModel):
    """A text message the fake SMS sender recorded instead of sending."""

    model_config = ConfigDict(from_attributes=True)

    phone: str
    text: str
    sent_at: datetime
