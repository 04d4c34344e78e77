"""违规行为抓拍 ``vision_violation``: a compliance violation seen by a kitchen camera (no mask, no chef hat). Its data, its words and its rule."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from agent.config.rules import Rules
from agent.records.base import Judgement, RecordData


class VisionViolation(RecordData):
    """A compliance violation seen by a kitchen camera (no mask, no chef hat)."""

    record_type: ClassVar[str] = "vision_violation"
    label: ClassVar[tuple[str, str]] = ("违规行为抓拍", "vision violation")
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
