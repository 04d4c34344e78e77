"""场所设备消毒 ``premises_disinfection``: one UV lamp or ozone run. Its data, its words and its rule."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import AwareDatetime

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


class PremisesDisinfection(RecordData):
    """场所设备消毒: one UV lamp or ozone run."""

    record_type: ClassVar[str] = "premises_disinfection"
    title: ClassVar[Term] = Term("场所消毒", "Premises disinfection")
    provincial: ClassVar[int | None] = 6
    device_id: str
    room: str | None = None
    method: Literal["uv_lamp", "ozone"]
    started_at: AwareDatetime
    ended_at: AwareDatetime
    minutes: float
    target_minutes: float

    def judge(self, rules: Rules, day: date) -> Judgement:
        return Judgement.of([f"{self.method}_run_too_short"] if self.minutes < self.target_minutes else [], [])

    def brief(self) -> list[Fact]:
        return facts(fact("房间", "room", room(self.room or self.device_id)),
                      fact("方式", "method", term(DISINFECTION_METHODS, self.method)),
                      fact("时长", "duration", f"{self.minutes:.0f} / {self.target_minutes:.0f} 分钟 min"))
