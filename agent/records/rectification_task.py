"""整改单 ``rectification_task``: one step in the life of a rectification task. Its data, its words and its rule.

A task is opened from a finding (a failed item of the 常规日检, an inspector's finding, an
incident, a drill's finding, a failed disinfection, or by hand) with its owner and its
deadline; the owner marks it done (what was done, a photo, by whom); the supervisor or
oversight verifies it, or reopens it with a new deadline. Each step is one record with
the task's ``task_id`` (the first step's ``task_id`` names the task), so the platform
sees the whole life and its times (time-to-fix). Overdue is not a step: the agent raises
the alarm ``rectification_overdue`` for the task while its deadline is past.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from agent.records.base import (
    Fact,
    RecordData,
    fact,
    facts,
    when_text,
)
from agent.words.terms import Term, term

TaskStep = Literal["opened", "done", "verified", "reopened"]
TaskSource = Literal["routine_daily_check", "superior_inspection", "incident_report", "drill",
                     "tableware_disinfection", "premises_disinfection", "cold_chain", "vision_violation",
                     "complaint", "alarm", "by_hand"]

STEPS: dict[str, Term] = {
    "opened": Term("待整改", "open"),
    "done": Term("已完成待验收", "done, to verify"),
    "verified": Term("已验收", "verified"),
    "reopened": Term("退回重改", "reopened"),
}
# what a task is while it waits: the step's words, and "overdue" when its deadline is past
TASK_STATES: dict[str, Term] = {**STEPS, "overdue": Term("已逾期", "overdue")}
SOURCES: dict[str, Term] = {
    "routine_daily_check": Term("常规日检", "routine daily check"),
    "superior_inspection": Term("上级巡检", "inspection"),
    "incident_report": Term("突发事件", "incident"),
    "drill": Term("应急演练", "drill"),
    "tableware_disinfection": Term("餐饮具消毒", "tableware disinfection"),
    "premises_disinfection": Term("场所消毒", "premises disinfection"),
    "cold_chain": Term("冷链", "cold chain"),
    "vision_violation": Term("违规行为", "vision violation"),
    "complaint": Term("投诉建议", "complaint"),
    "alarm": Term("告警", "alarm"),
    "by_hand": Term("手工登记", "by hand"),
}


class RectificationTask(RecordData):
    """整改单: one step (opened, done, verified, reopened) of a rectification task."""

    record_type: ClassVar[str] = "rectification_task"
    title: ClassVar[Term] = Term("整改单", "Rectification task")
    task_id: str = Field(description="the task's id: the same on every step of one task")
    step: TaskStep
    source_type: TaskSource = Field(description="what opened the task")
    source_id: str | None = Field(None, description="id of the record (or alarm raise) it came from")
    problem: str = Field(min_length=1, max_length=2000, description="what is wrong (copied on every step)")
    owner: str = Field(min_length=1, max_length=200,
                       description="who must fix it: a console account's name, or a staff id")
    deadline: AwareDatetime = Field(description="fix by then (a reopen may set a new one)")
    action_text: str | None = Field(None, max_length=2000, description="done: what was done")
    note: str | None = Field(None, max_length=2000, description="verified / reopened: the checker's remark")
    by: str = Field(min_length=1, max_length=200, description="who took this step (account name or staff id)")
    opened_at: AwareDatetime | None = Field(None, description="when the task was opened (on later steps)")

    def brief(self) -> list[Fact]:
        return facts(fact("状态", "step", STEPS[self.step]), fact("来源", "source", term(SOURCES, self.source_type)),
                      fact("问题", "problem", self.problem), fact("责任人", "owner", self.owner, is_name=True),
                      fact("期限", "deadline", when_text(self.deadline)),
                      fact("整改措施", "action", self.action_text), fact("验收意见", "remark", self.note),
                      fact("操作人", "by", self.by, is_name=True))

    def overdue(self, now: datetime) -> bool:
        """A task waiting for its owner (opened or reopened) past its deadline."""
        return self.step in ("opened", "reopened") and now > self.deadline
