"""应急演练 ``drill``: an emergency drill held in the kitchen. Its data, its words.

The scenario (from the emergency plans in the document library), when and how long,
who took part (badged at a station or picked from the staff list), photos, and the
findings: each finding opens a rectification task (``rectification_task``).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from agent.records.base import (
    Fact,
    RecordData,
    fact,
    facts,
    when_text,
)
from agent.words.terms import Term


class Participant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    staff_id: str = Field(min_length=1)
    name: str | None = None
    via: Literal["badge", "picked"] = Field("picked", description="badged at a station, or picked from the list")


class Drill(RecordData):
    """应急演练: an emergency drill."""

    record_type: ClassVar[str] = "drill"
    title: ClassVar[Term] = Term("应急演练", "Drill")
    scenario: str = Field(min_length=1, max_length=200, description="the emergency plan drilled")
    document_id: str | None = Field(None, description="the plan's document in the library, when it is there")
    held_at: AwareDatetime
    minutes: float = Field(gt=0, le=24 * 60)
    participants: list[Participant] = Field(min_length=1)
    findings: list[str] = Field(default_factory=list, description="what the drill showed must be fixed")
    recorded_by: str = Field(min_length=1, max_length=200)

    def brief(self) -> list[Fact]:
        return facts(fact("演练内容", "scenario", self.scenario), fact("时间", "when", when_text(self.held_at)),
                      fact("时长", "duration", f"{self.minutes:g} 分钟 min"),
                      fact("参加人数", "participants", len(self.participants)),
                      fact("发现问题", "findings", "；".join(self.findings)))
