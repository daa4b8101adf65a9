"""What the OCDS export says about its publisher; read from ``LINLI_OCDS_*`` environment variables."""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OcdsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LINLI_OCDS_", extra="ignore")

    # The publisher's prefix as the Open Contracting Partnership registers it: ``ocds-`` and six characters. Every
    # ocid is this prefix, a hyphen and the process's id. A wrong one stops the service at start.
    ocid_prefix: str = Field(
        default="ocds-lnl0fs",
        pattern=r"^ocds-[a-z0-9]{6}$",
        description="The registered OCID prefix: ocds- and six lowercase letters or digits.",
    )
    # Prefixes ocids were published under before: their links still answer (with the current ocid).
    former_ocid_prefixes: tuple[str, ...] = ("ocds-linli-fs",)
    publisher_name: str = "北京市房山区民政局"
    # The buyer of every contracting process: the bureau that owns the funds and signs the contracts.
    buyer_id: str = "fangshan-civil-affairs"
    buyer_name: str = "北京市房山区民政局"
    license: str | None = "https://creativecommons.org/licenses/by/4.0/"


@cache
def ocds_settings() -> OcdsSettings:
    return OcdsSettings()
