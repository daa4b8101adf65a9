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
    consent_version: str | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        pattern=r"^[0-9A-Za-z_.-]+$",
        examples=["2026-11"],
        description=(
            "The version of the privacy notice the app showed on its sign-in screen and the resident accepted. "
            "Recorded with the link to their resident record; leave it out when the app showed none (the "
            "record's own consent, given when it was registered, then stands alone)."
        ),
    )


class PhoneProofRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = Field(min_length=3, max_length=32, examples=["139 1234 5678"])
    code: str = Field(pattern=r"^\d{6}$")


class PhoneProof(BaseModel):
    """Proof that the caller has just verified ``phone``: send it as ``phone_proof`` with the change of phone."""

    phone: str = Field(description="The verified number, in E.164")
    phone_proof: str = Field(description="A signed proof, good for the caller only, until it expires")
    expires_in: int = Field(description="Seconds the proof stays valid")
