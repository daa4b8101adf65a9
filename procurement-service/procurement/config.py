from typing import Annotated, ClassVar

from fastapi import Depends
from pydantic import Field, model_validator

from service_kit.settings import ServiceSettings, settings_dependency


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "procurement"

    # The public notice (公示) of approved projects runs this many working days unless an official sets another.
    notice_period_working_days: int = Field(default=5, ge=1, le=30)

    # A contract's evaluation (评估) weighs five parts; the weights sum to 100. The scored parts: quantity
    # (verified deliverables against the targets), the recipients' quality (ratings of the contract's funded
    # bookings and the satisfaction callbacks), fund use (delivered value against what was paid); and the
    # purchaser's and the assigned third-party evaluator's scores. A part without data is "missing": it keeps
    # its weight and adds nothing, never re-weighted onto the others.
    evaluation_weight_quantity: int = Field(default=30, ge=0, le=100)
    evaluation_weight_recipients: int = Field(default=20, ge=0, le=100)
    evaluation_weight_fund_use: int = Field(default=10, ge=0, le=100)
    evaluation_weight_purchaser: int = Field(default=20, ge=0, le=100)
    evaluation_weight_third_party: int = Field(default=20, ge=0, le=100)

    # Acceptance (验收) and the last installment need at least this KPI attainment (percent of the targets'
    # quantity delivered, verified); below it the way forward is a bilateral settlement or the sanction process.
    acceptance_attainment_threshold: int = Field(default=80, ge=0, le=100)

    # 优胜劣汰: a final evaluation below this score (0–100), or a failed acceptance, sanctions the provider,
    # who may not apply to the next ``sanction_rounds`` calls for proposals.
    sanction_score_threshold: int = Field(default=60, ge=0, le=100)
    sanction_rounds: int = Field(default=2, ge=1, le=20)

    @model_validator(mode="after")
    def _weights_sum_to_100(self) -> "Settings":
        total = (
            self.evaluation_weight_quantity
            + self.evaluation_weight_recipients
            + self.evaluation_weight_fund_use
            + self.evaluation_weight_purchaser
            + self.evaluation_weight_third_party
        )
        if total != 100:
            raise ValueError(f"the evaluation weights sum to {total}, not 100")
        return self


SettingsDep = Annotated[Settings, Depends(settings_dependency(Settings))]
