"""每日台账 ``daily_ledger``: extension type: the day's summary, written once at day end. Its data, its words and its rule."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from agent.records.base import (
    Fact,
    RecordData,
    fact,
    facts,
)
from agent.words.terms import (
    Term,
)


class LedgerLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    record_type: str
    count: int
    passed: int = 0
    failed: int = 0
    warned: int = 0


class DailyLedger(RecordData):
    """Extension type: the day's summary, written once at day end."""

    record_type: ClassVar[str] = "daily_ledger"
    title: ClassVar[Term] = Term("每日台账", "Daily ledger")
    day: date
    lines: list[LedgerLine]
    open_alarms: list[str] = Field(default_factory=list)
    still_due: list[str] = Field(default_factory=list)
    # Optional since v1.1 of the extension (docs/daily_ledger.md); absent in older ledgers.
    duties_due: int | None = Field(None, ge=0, description="Duties that fell due that day (reminders)")
    duties_done: int | None = Field(None, ge=0, description="Of those, how many were done")
    alarms_raised: int | None = Field(None, ge=0, description="Alarms raised that day, any kind")
    diners: int | None = Field(None, ge=0, description="Diners over all meals served (meal_service)")
    tasks_open: int | None = Field(None, ge=0, description="整改单 not yet verified at the day's end (extension)")
    tasks_overdue: int | None = Field(None, ge=0, description="Of those, waiting for their owner past the deadline")
    tasks_verified: int | None = Field(None, ge=0, description="整改单 verified that day")
    replaces: str | None = Field(None, description="Id of an earlier ledger of this day written before the "
                                                   "day had ended (a clock set ahead); that one is void")

    def brief(self) -> list[Fact]:
        done = f"{self.duties_done} / {self.duties_due}" if self.duties_due is not None else ""
        return facts(fact("日期", "day", self.day), fact("完成事项", "duties done", done),
                      fact("告警", "alarms raised", self.alarms_raised), fact("就餐人数", "diners", self.diners),
                      fact("未完成", "still due", len(self.still_due)) if self.still_due else None,
                      fact("整改单", "rectification tasks",
                           f"待完成 {self.tasks_open} open，逾期 {self.tasks_overdue or 0} overdue" if self.tasks_open else ""))
