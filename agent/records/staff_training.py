"""从业人员培训 ``staff_training``: attendance at a training session. Its data, its words and its rule."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from agent.records.base import (
    Fact,
    RecordData,
    fact,
    facts,
    who_text,
)
from agent.words.terms import (
    Term,
)


class StaffTraining(RecordData):
    """从业人员培训: attendance at a training session."""

    record_type: ClassVar[str] = "staff_training"
    title: ClassVar[Term] = Term("培训", "Training")
    provincial: ClassVar[int | None] = 9
    session: str
    staff_id: str
    name: str | None = None
    hours: float | None = None
    session_id: str | None = Field(None, description="the training_session record it belongs to (extension)")
    result: Literal["pass", "fail"] | None = Field(None, description="the person's result, when tested (extension)")

    def brief(self) -> list[Fact]:
        return facts(fact("人员", "person", who_text(self.name, self.staff_id)), fact("培训", "session", self.session),
                      fact("学时", "hours", f"{self.hours:g} h" if self.hours is not None else ""),
                      fact("结果", "result", {"pass": "合格 pass", "fail": "不合格 fail"}.get(self.result or "", "")))
