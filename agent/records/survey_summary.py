"""满意度测评 ``survey_summary``: extension type 满意度测评: a satisfaction survey's results as counts
and means (no answer, device or person in it). Its data, its words and its rule."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from agent.records.base import (
    Fact,
    RecordData,
    fact,
    facts,
)
from agent.words.terms import Term


class QuestionResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question_id: str
    text: str
    kind: str = Field(description="scale (1-5) or text")
    answered: int = Field(ge=0)
    counts: list[int] = Field(default_factory=list, description="scale: answers of 1, 2, 3, 4, 5")
    mean: float | None = Field(None, description="scale: the mean of the answers")
    texts: list[str] | None = Field(None, description="text: the answers, only when the school sends them")


class SurveySummary(RecordData):
    """Extension type 满意度测评: one survey's aggregated answers, sent when the school sends it."""

    record_type: ClassVar[str] = "survey_summary"
    title: ClassVar[Term] = Term("满意度测评", "Satisfaction survey")
    survey_id: str
    survey_title: str = Field(max_length=200)
    term: str = Field(max_length=64, description="the school term it belongs to, e.g. 2026秋")
    responses: int = Field(ge=0, description="answers received (one per device)")
    questions: list[QuestionResult]
    closed: bool = Field(description="the survey no longer takes answers")

    def brief(self) -> list[Fact]:
        means = [f"{q.mean:.2f}" for q in self.questions if q.mean is not None]
        return facts(fact("问卷", "survey", self.survey_title), fact("学期", "term", self.term),
                     fact("答卷数", "answers", self.responses), fact("平均分", "means", " / ".join(means)))
