"""餐饮具消毒 ``tableware_disinfection``: one disinfection cycle of a cabinet, steamer or dishwasher. Its data, its words and its rule."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import AwareDatetime, Field

from agent.config.rules import Rules
from agent.records.base import Judgement, Meal, RecordData


class ThermalDisinfection(RecordData):
    """餐饮具消毒: one disinfection cycle of a cabinet, steamer or dishwasher."""

    record_type: ClassVar[str] = "tableware_disinfection"
    label: ClassVar[tuple[str, str]] = ("餐饮具消毒", "tableware disinfection")
    provincial: ClassVar[int | None] = 5
    device_id: str
    method: str = Field(description="infrared_cabinet, steam, boiling, dishwasher_rinse, chlorine")
    started_at: AwareDatetime
    ended_at: AwareDatetime
    target_c: float | None = None
    required_s: float | None = None
    peak_c: float | None = None
    seconds_at_target: float | None = None
    chlorine_mg_per_l: float | None = None
    immersion_min: float | None = None
    cut_short: bool = False
    meal: Meal | None = None

    def judge(self, rules: Rules, day: date) -> Judgement:
        if self.method == "chlorine":
            fails = []
            if self.chlorine_mg_per_l is None or self.chlorine_mg_per_l < rules.disinfection.chlorine_mg_per_l:
                fails.append("chlorine_below_target")
            if self.immersion_min is None or self.immersion_min < rules.disinfection.chlorine_immersion_min:
                fails.append("immersion_too_short")
            return Judgement.of(fails, [])
        fails = []
        if self.target_c is not None and (self.peak_c is None or self.peak_c < self.target_c):
            fails.append("cabinet_below_target")
        elif self.required_s is not None and (self.seconds_at_target or 0) < self.required_s:
            fails.append("hold_too_short")
        if self.cut_short:
            fails.append("cycle_cut_short")
        return Judgement.of(fails, [])
