"""Coordinates and gazetteer codes as request fields, shared by the gazetteer, offerings and the circle."""

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, examples=[39.7302])]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, examples=[116.1489])]
StreetCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,15}$")]
# ``<street>.<community>``, at most 32 characters: booking-service stores residents' community codes in 32.
CommunityCode = Annotated[str, StringConstraints(max_length=32, pattern=r"^[a-z][a-z0-9_]{0,15}\.[a-z0-9_]{1,30}$")]


def distinct(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


CommunityCodes = Annotated[list[CommunityCode], Field(max_length=200), AfterValidator(distinct)]
