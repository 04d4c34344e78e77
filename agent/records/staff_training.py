"""从业人员培训 ``staff_training``: attendance at a training session. Its data, its words and its rule."""

from __future__ import annotations

from typing import ClassVar

from agent.records.base import RecordData


class StaffTraining(RecordData):
    """从业人员培训: attendance at a training session."""

    record_type: ClassVar[str] = "staff_training"
    label: ClassVar[tuple[str, str]] = ("从业人员培训", "staff training")
    provincial: ClassVar[int | None] = 9
    session: str
    staff_id: str
    name: str | None = None
    hours: float | None = None
