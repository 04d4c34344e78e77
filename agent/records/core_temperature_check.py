"""食品中心温度 ``core_temperature_check``: a dish's core temperature, probed, against its stage's minimum.

docs/DOMAIN.md: food is cooked through when its core reaches 70 °C, and hot food is held
above 60 °C until it is served. Whoever writes the record (the core-temperature station)
writes the minimum it was held to (``target_c``, its configured figure), so the record
reads alone and the rule needs no lookup: below the target it fails.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field

from agent.config.rules import Rules
from agent.records.base import (
    Fact,
    Judgement,
    Meal,
    RecordData,
    celsius_text,
    fact,
    facts,
)
from agent.words.terms import (
    Term,
)

Stage = Literal["cooking", "hot_holding"]  # 烹饪 (core >= 70 °C) / 热藏保温 (>= 60 °C)


class CoreTemperatureCheck(RecordData):
    """食品中心温度: one dish probed while it is cooked or kept hot."""

    record_type: ClassVar[str] = "core_temperature_check"
    title: ClassVar[Term] = Term("食品中心温度", "Core temperature")
    stage: Stage = Field(description="cooking (烹饪) or hot_holding (热藏保温)")
    dish: str = Field(min_length=1, max_length=100)
    meal: Meal | None = None
    core_c: float = Field(ge=-50, le=300, description="the probe's reading at the dish's core")
    target_c: float = Field(ge=0, le=300, description="the stage's minimum the dish was held to")

    def judge(self, rules: Rules, day: date) -> Judgement:
        return Judgement.of(["core_below_target"] if self.core_c < self.target_c else [], [])

    def brief(self) -> list[Fact]:
        stage = {"cooking": "烹饪 cooking", "hot_holding": "热藏 hot holding"}[self.stage]
        return facts(fact("菜品", "dish", self.dish), fact("环节", "stage", stage),
                     fact("中心温度", "core", f"{celsius_text(self.core_c)}（≥ {celsius_text(self.target_c)}）"))
