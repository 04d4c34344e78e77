"""场所设备消毒 ``premises_disinfection``: one UV lamp or ozone run. Its data, its words and its rule."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import AwareDatetime

from agent.config.rules import Rules
from agent.records.base import Judgement, RecordData


class PremisesDisinfection(RecordData):
    """场所设备消毒: one UV lamp or ozone run."""

    record_type: ClassVar[str] = "premises_disinfection"
    label: ClassVar[tuple[str, str]] = ("场所设备消毒", "premises disinfection")
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
