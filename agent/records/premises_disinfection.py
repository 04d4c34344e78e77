"""场所设备消毒 ``premises_disinfection``: one UV lamp or ozone run. Its data, its words and its rule."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from agent.config.rules import Rules
from agent.records.base import (
    Fact,
    Judgement,
    RecordData,
    fact,
    facts,
)
from agent.words.terms import (
    DISINFECTION_METHODS,
    Term,
    room,
    term,
)

# the disinfectants sprayed or wiped by hand (console form and station keypad): key -> the record's ``agent``
HAND_AGENTS: dict[str, Term] = {
    "chlorine": Term("含氯消毒液", "chlorine"),
    "alcohol": Term("75%酒精", "alcohol 75%"),
    "other": Term("其他", "other"),
}


class PremisesDisinfection(RecordData):
    """场所设备消毒: one UV lamp or ozone run."""

    record_type: ClassVar[str] = "premises_disinfection"
    title: ClassVar[Term] = Term("场所消毒", "Premises disinfection")
    provincial: ClassVar[int | None] = 6
    device_id: str
    room: str | None = None
    method: Literal["uv_lamp", "ozone", "spray", "wipe"] = Field(
        description="uv_lamp, ozone (a device's run); spray, wipe (by hand, extension)")
    started_at: AwareDatetime
    ended_at: AwareDatetime
    minutes: float
    target_minutes: float
    agent: str | None = Field(None, max_length=100, description="by hand: the disinfectant used (extension)")
    concentration_mg_per_l: float | None = Field(None, gt=0, description="by hand: its effective concentration")
    min_concentration_mg_per_l: float | None = Field(None, gt=0, description="by hand: the minimum it was held to")
    area: str | None = Field(None, max_length=200, description="by hand: what was disinfected (room, surfaces)")
    recorded_by: str | None = Field(None, description="by hand: the account or staff id that entered it")

    def judge(self, rules: Rules, day: date) -> Judgement:
        if self.method in ("spray", "wipe"):
            fails = []
            if self.min_concentration_mg_per_l is not None and (
                    self.concentration_mg_per_l is None or self.concentration_mg_per_l < self.min_concentration_mg_per_l):
                fails.append("concentration_below_target")
            if self.minutes < self.target_minutes:
                fails.append("contact_too_short")
            return Judgement.of(fails, [])
        return Judgement.of([f"{self.method}_run_too_short"] if self.minutes < self.target_minutes else [], [])

    def brief(self) -> list[Fact]:
        return facts(fact("房间", "room", room(self.room or self.device_id)),
                      fact("方式", "method", term(DISINFECTION_METHODS, self.method)),
                      fact("时长", "duration", f"{self.minutes:.0f} / {self.target_minutes:.0f} 分钟 min"),
                      fact("消毒剂", "disinfectant", self.agent),
                      fact("浓度", "concentration",
                           f"{self.concentration_mg_per_l:g} mg/L" if self.concentration_mg_per_l else ""),
                      fact("区域", "area", self.area))
