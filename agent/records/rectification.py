"""整改 ``rectification``: extension type 整改: the corrective action that resolved an alarm (docs/PLATFORM.md). Its data, its words and its rule."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from agent.records.base import RecordData


class Rectification(RecordData):
    """Extension type 整改: the corrective action that resolved an alarm (docs/PLATFORM.md)."""

    record_type: ClassVar[str] = "rectification"
    label: ClassVar[tuple[str, str]] = ("整改", "rectification")
    alarm_id: str = Field(description="id of the alarm envelope (its raise) this resolves")
    alarm_kind: str = Field(description="kind of that alarm, e.g. fever, cold_chain_high")
    subject: dict[str, str] = Field(description="the alarm's subject (staff_id / device_id / meal ...)")
    action_text: str = Field(min_length=1, max_length=2000, description="what was done about it")
    resolved_by: str = Field(min_length=1, description="console user name of the manager")
    restores_fitness: bool | None = Field(
        None, description="fever: the manager restores the person's fitness for duty today (reason in action_text)")
