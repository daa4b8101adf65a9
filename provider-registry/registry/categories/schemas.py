from pydantic import BaseModel, Field


class CategoryNode(BaseModel):
    code: str = Field(examples=["elderly.meal_table"])
    name_zh: str = Field(examples=["老年餐桌"])
    name_en: str = Field(examples=["Meal table for seniors"])
    children: list["CategoryNode"] = Field(default_factory=list)
