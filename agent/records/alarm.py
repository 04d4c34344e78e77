"""告警 ``alarm``: the ``data`` of an alarm envelope (``type: "alarm"``). Its data, its words and its rule."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from agent.records.base import RecordData

AlarmState = Literal["raised", "cleared"]
Severity = Literal["critical", "major", "minor", "info"]


class AlarmData(RecordData):
    """The ``data`` of an alarm envelope (``type: "alarm"``)."""

    record_type: ClassVar[str] = "alarm"
    label: ClassVar[tuple[str, str]] = ("告警", "alarm")
    priority: ClassVar[str] = "alarm"
    kind: str = Field(description="e.g. cold_chain_high, device_offline, no_mask, fever")
    state: AlarmState
    severity: Severity
    subject: dict[str, str] = Field(description="device_id / camera_id / staff_id / meal ...")
    message: str
    raised_id: str | None = Field(None, description="on a clear: the id of the raise it ends")
    details: dict[str, Any] = Field(default_factory=dict)
