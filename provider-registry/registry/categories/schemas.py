from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class CategoryNode(BaseModel):
    code: str = Field(examples=["elderly.meal_table"])
    name_zh: str = Field(examples=["老年餐桌"])
    name_en: str = Field(examples=["Meal table for seniors"])
    required_qualification: str | None = Field(default=None, examples=["elderly_care"])
    children: list["CategoryNode"] = Field(default_factory=list)


class CategoryUpdate(BaseModel):
    """What an official may change of a category: the qualification its offerings require (null: none)."""

    model_config = ConfigDict(extra="forbid")

    required_qualification: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")] | None
