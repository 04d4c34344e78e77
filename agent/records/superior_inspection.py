"""上级巡检 ``superior_inspection``: an inspector from a supervising authority checked in. Its data, its words and its rule."""

from __future__ import annotations

from typing import ClassVar

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


class SuperiorInspection(RecordData):
    """上级巡检: an inspector from a supervising authority checked in."""

    record_type: ClassVar[str] = "superior_inspection"
    title: ClassVar[Term] = Term("上级巡检", "Inspection")
    provincial: ClassVar[int | None] = 10
    inspector_id: str
    name: str | None = None
    organisation: str | None = None
    findings_text: str | None = None

    def brief(self) -> list[Fact]:
        return facts(fact("检查人", "inspector", who_text(self.name, self.inspector_id)),
                      fact("单位", "organisation", self.organisation), fact("检查发现", "findings", self.findings_text))
