"""餐饮具消毒 ``tableware_disinfection``: one disinfection cycle of a cabinet, steamer or dishwasher. Its data, its words and its rule."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import AwareDatetime, Field

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
    DISINFECTION_METHODS,
    YES_NO,
    Term,
    meal,
    term,
)


class ThermalDisinfection(RecordData):
    """餐饮具消毒: one disinfection cycle of a cabinet, steamer or dishwasher."""

    record_type: ClassVar[str] = "tableware_disinfection"
    title: ClassVar[Term] = Term("餐饮具消毒", "Tableware disinfection")
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
    by_hand: bool | None = Field(None, description="true: done by hand (a chlorine soak, steaming by hand) and "
                                                    "entered by a person, not measured by a device (extension)")
    recorded_by: str | None = Field(None, description="by hand: the account or staff id that entered it (extension)")

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

    def brief(self) -> list[Fact]:
        held = (f"{(self.seconds_at_target or 0) / 60:.1f} / {self.required_s / 60:.0f} 分钟 min"
                if self.required_s else "")
        if self.method == "chlorine":
            return facts(fact("方式", "method", term(DISINFECTION_METHODS, self.method)),
                          fact("有效氯", "chlorine", f"{self.chlorine_mg_per_l:g} mg/L" if self.chlorine_mg_per_l else ""),
                          fact("浸泡", "soaked", f"{self.immersion_min:g} 分钟 min" if self.immersion_min else ""),
                          fact("手工", "by hand", YES_NO[True]) if self.by_hand else None,
                          fact("餐次", "meal", meal(self.meal)) if self.meal else None)
        return facts(fact("设备", "device", self.device_id),
                      fact("方式", "method", term(DISINFECTION_METHODS, self.method)),
                      fact("最高温度", "peak", celsius_text(self.peak_c)), fact("达标时长", "held", held),
                      fact("餐次", "meal", meal(self.meal)) if self.meal else None,
                      fact("中断", "cut short", YES_NO[True]) if self.cut_short else None,
                      fact("手工", "by hand", YES_NO[True]) if self.by_hand else None)
