from pydantic import BaseModel


class Community(BaseModel):
    code: str
    street_code: str
    name_zh: str
