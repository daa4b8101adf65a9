from typing import Annotated, ClassVar

from fastapi import Depends, Request
from pydantic import Field, model_validator

from service_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "procurement"

    # The public notice (公示) of approved projects runs this many working days unless an official sets another.
    notice_period_working_days: int = Field(default=5, ge=1, le=30)

    # A contract's evaluation (评估) weighs three parties' scores; the weights sum to 100. When no resident has
    # rated the provider yet, the other two parties' weights are scaled up to fill the recipients' share.
    evaluation_weight_purchaser: int = Field(default=40, ge=0, le=100)
    evaluation_weight_recipients: int = Field(default=30, ge=0, le=100)
    evaluation_weight_third_party: int = Field(default=30, ge=0, le=100)

    # 优胜劣汰: a final evaluation below this score (0–100), or a failed acceptance, sanctions the provider,
    # who may not apply to the next ``sanction_rounds`` calls for proposals.
    sanction_score_threshold: int = Field(default=60, ge=0, le=100)
    sanction_rounds: int = Field(default=2, ge=1, le=20)

    @model_validator(mode="after")
    def _weights_sum_to_100(self) -> "Settings":
        total = (
            self.evaluation_weight_purchaser + self.evaluation_weight_recipients + self.evaluation_weight_third_party
        )
        if total != 100:
            raise ValueError(f"the evaluation weights sum to {total}, not 100")
        return self


def current_settings(request: Request) -> Settings:
    settings = request.app.state.runtime.settings
    return settings if isinstance(settings, Settings) else Settings()


SettingsDep = Annotated[Settings, Depends(current_settings)]
