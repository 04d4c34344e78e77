"""培训 ``training_session``: a training session with its attendance and results. Its data, its words.

A session has a topic, the documents used (from the library), the trainer, the hours,
who attended (badged, as at a check-in station, or picked) and each person's optional
result. Each attendee's hours also go out as the province's ``staff_training`` record,
which is what a person's yearly hours are counted from.
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

RESULTS: dict[str, Term] = {"pass": Term("合格", "pass"), "fail": Term("不合格", "fail")}


class Attendee(BaseModel):
    model_config = ConfigDict(extra="forbid")
    staff_id: str = Field(min_length=1)
    name: str | None = None
    via: Literal["badge", "picked"] = "picked"
    result: Literal["pass", "fail"] | None = Field(None, description="pass / fail, when the session tests")
    score: float | None = Field(None, ge=0, le=100, description="a score out of 100, when there is one")


class TrainingSession(RecordData):
    """培训: one training session."""

    record_type: ClassVar[str] = "training_session"
    title: ClassVar[Term] = Term("培训场次", "Training session")
    topic: str = Field(min_length=1, max_length=200)
    document_ids: list[str] = Field(default_factory=list, description="documents used, from the library")
    trainer: str = Field(min_length=1, max_length=200)
    held_at: AwareDatetime
    hours: float = Field(gt=0, le=24)
    attendees: list[Attendee] = Field(min_length=1)
    recorded_by: str = Field(min_length=1, max_length=200)

    def brief(self) -> list[Fact]:
        failed = sum(1 for a in self.attendees if a.result == "fail")
        return facts(fact("主题", "topic", self.topic), fact("讲师", "trainer", self.trainer, is_name=True),
                      fact("时间", "when", when_text(self.held_at)), fact("学时", "hours", f"{self.hours:g} h"),
                      fact("参加人数", "attendees", len(self.attendees)),
                      fact("不合格", "failed", failed if failed else ""))
