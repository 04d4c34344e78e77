"""投诉处理 ``complaint_response``: extension type 投诉处理: the school's answer to a complaint
(accepted with a 整改 task, declined, or a reply). Its data, its words and its rule."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from agent.records.base import (
    Fact,
    RecordData,
    fact,
    facts,
)
from agent.words.terms import Term, term

DECISIONS: dict[str, Term] = {
    "accepted": Term("已受理，整改中", "accepted: being rectified"),
    "declined": Term("不予受理", "declined"),
    "replied": Term("已答复", "replied"),
}


class ComplaintResponse(RecordData):
    """Extension type 投诉处理: the supervisor's decision on a ``public_complaint`` and the reply the
    submitter reads with their receipt code."""

    record_type: ClassVar[str] = "complaint_response"
    title: ClassVar[Term] = Term("投诉处理", "Complaint response")
    complaint_id: str = Field(description="id of the public_complaint record")
    decision: Literal["accepted", "declined", "replied"] = Field(
        description="accepted: a rectification task opens; declined: with the reason; replied: an answer only")
    reply: str = Field(min_length=1, max_length=2000, description="what the submitter reads")
    by: str = Field(min_length=1, max_length=64, description="console user name of the supervisor")
    task_id: str | None = Field(None, description="accepted: the rectification task (or alarm) it opened")

    def brief(self) -> list[Fact]:
        return facts(fact("处理", "decision", term(DECISIONS, self.decision)), fact("答复", "reply", self.reply[:80]),
                     fact("处理人", "by", self.by, is_name=True))
