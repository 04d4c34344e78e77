"""远程升级 ``agent_update``: extension type: what became of a remote update
(docs/PLATFORM.md §12). Its data and its words; no rule judges it."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from agent.records.base import Fact, RecordData, fact, facts
from agent.words.terms import Term

UPDATE_OUTCOMES: dict[str, Term] = {
    "started": Term("试运行中", "on trial"), "committed": Term("已生效", "committed"),
    "rolled_back": Term("已回退", "rolled back"), "refused": Term("已拒绝", "refused"),
}


class AgentUpdate(RecordData):
    """Extension type: what became of a remote update (docs/PLATFORM.md §12)."""

    record_type: ClassVar[str] = "agent_update"
    title: ClassVar[Term] = Term("远程升级", "Remote update")
    # sent in the alarms' class: a new version on trial proves its uplink by this record's
    # ack, which a backlog of days of records must not hold back past the trial window
    priority: ClassVar[str] = "alarm"
    outcome: Literal["started", "committed", "rolled_back", "refused"] = Field(
        description="started: the new version runs, on trial (its delivery proves the uplink); "
                    "committed: it was healthy in time and stays; rolled_back: it was undone and "
                    "the old version runs; refused: nothing was installed")
    version: str = Field(max_length=64, description="the version the update named")
    from_version: str = Field(max_length=64, description="the version running when it was accepted")
    running_version: str | None = Field(None, max_length=64, description="the version running now")
    reason: str | None = Field(None, max_length=1000, description="why it was undone or refused")
    command_id: str | None = Field(None, max_length=128, description="the update command's id")
    seconds: float | None = Field(None, ge=0, description="from the command's acceptance to this outcome")

    def brief(self) -> list[Fact]:
        return facts(fact("结果", "outcome", UPDATE_OUTCOMES[self.outcome]),
                     fact("版本", "version", f"{self.from_version} → {self.version}"),
                     fact("原因", "reason", self.reason))
