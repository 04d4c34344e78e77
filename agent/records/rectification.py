"""整改 ``rectification``: extension type 整改: the corrective action that resolved an alarm (docs/PLATFORM.md). Its data, its words and its rule."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from agent.records.base import (
    Fact,
    RecordData,
    fact,
    facts,
)
from agent.words.alarms import kind_term
from agent.words.terms import (
    YES_NO,
    Term,
)


class Rectification(RecordData):
    """Extension type 整改: a person's corrective action on an alarm (docs/PLATFORM.md)."""

    record_type: ClassVar[str] = "rectification"
    title: ClassVar[Term] = Term("整改", "Rectification")
    alarm_id: str = Field(description="id of the alarm envelope (its raise) this resolves")
    alarm_kind: str = Field(description="kind of that alarm, e.g. fever, cold_chain_high")
    subject: dict[str, str] = Field(description="the alarm's subject (staff_id / device_id / meal ...)")
    action_text: str = Field(min_length=1, max_length=2000, description="what was done about it")
    resolved_by: str = Field(min_length=1, description="console user name of the manager")
    restores_fitness: bool | None = Field(
        None, description="fever: the manager restores the person's fitness for duty today (reason in action_text)")
    clears_alarm: bool | None = Field(
        None, description="true: this 整改 closed the alarm (an event alarm such as fever); false: recorded on a "
                          "condition alarm, which clears only when its condition does (extension; absent before)")

    def brief(self) -> list[Fact]:
        return facts(fact("告警", "alarm", kind_term(self.alarm_kind)), fact("整改措施", "action", self.action_text),
                      fact("整改人", "by", self.resolved_by, is_name=True),
                      fact("恢复上岗", "fit again", YES_NO[self.restores_fitness])
                      if self.restores_fitness is not None else None)
