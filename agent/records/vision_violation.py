"""违规行为抓拍 ``vision_violation``: a compliance violation seen by a kitchen camera (no mask, no chef hat). Its data, its words and its rule."""

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
    when_text,
)
from agent.words.terms import (
    Term,
)


class VisionViolation(RecordData):
    """A compliance violation seen by a kitchen camera (no mask, no chef hat)."""

    record_type: ClassVar[str] = "vision_violation"
    title: ClassVar[Term] = Term("视频识别违规", "Camera violation")
    priority: ClassVar[str] = "record"
    camera_id: str
    kind: Literal["no_mask", "no_hat"]
    started_at: AwareDatetime
    seen_s: float = Field(ge=0, description="How long it persisted before being raised")
    track_id: int
    confidence: float = Field(ge=0, le=1)
    box: tuple[float, float, float, float] | None = Field(None, description="x1,y1,x2,y2 normalised")

    def judge(self, rules: Rules, day: date) -> Judgement:
        return Judgement("fail", [self.kind])

    def brief(self) -> list[Fact]:
        what = {"no_mask": Term("未戴口罩", "no mask"), "no_hat": Term("未戴厨师帽", "no chef hat")}[self.kind]
        return facts(fact("违规", "violation", what), fact("摄像头", "camera", self.camera_id),
                      fact("开始", "started", when_text(self.started_at)))
