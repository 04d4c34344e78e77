"""常规日检 ``routine_daily_check``: the manager's daily checklist. Its data, its words and its rule."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from agent.config.rules import Rules
from agent.records.base import (
    Fact,
    Judgement,
    RecordData,
    fact,
    facts,
)
from agent.words.terms import (
    Term,
)


class ChecklistItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: str
    ok: bool
    note: str | None = None


class RoutineDailyCheck(RecordData):
    """常规日检: the manager's daily checklist."""

    record_type: ClassVar[str] = "routine_daily_check"
    title: ClassVar[Term] = Term("常规日检", "Routine daily check")
    provincial: ClassVar[int | None] = 1
    items: list[ChecklistItem] = Field(min_length=1)

    def judge(self, rules: Rules, day: date) -> Judgement:
        return Judgement.of([f"item_failed:{i.item}" for i in self.items if not i.ok], [])

    def brief(self) -> list[Fact]:
        failed = [i for i in self.items if not i.ok]
        return facts(fact("检查项", "items", f"{len(self.items)} 项 items，{len(failed)} 项不合格 failed"),
                      *(fact("不合格", "failed", f"{i.item}{'：' + i.note if i.note else ''}") for i in failed))
