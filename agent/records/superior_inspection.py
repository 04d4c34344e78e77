"""上级巡检 ``superior_inspection``: an inspector from a supervising authority checked in. Its data, its words and its rule."""

from __future__ import annotations

from typing import ClassVar

from agent.records.base import RecordData


class SuperiorInspection(RecordData):
    """上级巡检: an inspector from a supervising authority checked in."""

    record_type: ClassVar[str] = "superior_inspection"
    label: ClassVar[tuple[str, str]] = ("上级巡检", "superior inspection")
    provincial: ClassVar[int | None] = 10
    inspector_id: str
    name: str | None = None
    organisation: str | None = None
    findings_text: str | None = None
