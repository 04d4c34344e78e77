"""告警 ``alarm``: the ``data`` of an alarm envelope (``type: "alarm"``). Its data, its words and its rule."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from agent.records.base import (
    Fact,
    RecordData,
    fact,
    facts,
)
from agent.words.alarms import kind_term
from agent.words.terms import (
    ALARM_STATES,
    Term,
)

AlarmState = Literal["raised", "cleared"]
Severity = Literal["critical", "major", "minor", "info"]


class AlarmData(RecordData):
    """The ``data`` of an alarm envelope (``type: "alarm"``)."""

    record_type: ClassVar[str] = "alarm"
    title: ClassVar[Term] = Term("告警", "Alarm")
    priority: ClassVar[str] = "alarm"
    kind: str = Field(description="e.g. cold_chain_high, device_offline, no_mask, fever")
    state: AlarmState
    severity: Severity
    subject: dict[str, str] = Field(description="device_id / camera_id / staff_id / meal ...")
    message: str
    raised_id: str | None = Field(None, description="on a clear: the id of the raise it ends")
    details: dict[str, Any] = Field(default_factory=dict)
    closed_by: Literal["condition", "rectification"] | None = Field(
        None, description="on a clear (extension): its condition cleared, or a person's rectification (整改) "
                          "closed it; absent on clears written before the field existed")
    rectification_id: str | None = Field(
        None, description="on a clear closed by a rectification: that rectification record's id (extension)")

    def brief(self) -> list[Fact]:
        if self.state == "raised":
            return facts(fact("告警", "alarm", kind_term(self.kind)), fact("状态", "state", Term("触发", "raised")),
                          fact("内容", "message", self.message))
        # a clear's message may name the rectification's id (v1): how it ended, in words
        rectified = self.closed_by == "rectification" or (self.closed_by is None and "rectification" in self.message)
        ended = ALARM_STATES["rectified" if rectified else "cleared"]
        return facts(fact("告警", "alarm", kind_term(self.kind)), fact("状态", "state", Term("结束", "ended")),
                      fact("结束方式", "how it ended", ended))
