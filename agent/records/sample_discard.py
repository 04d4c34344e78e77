"""留样处理 ``sample_discard``: one meal's food samples discarded once their keep time was over. Its data, its words and its rule."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

from pydantic import Field

from agent.records.base import (
    Fact,
    Meal,
    RecordData,
    fact,
    facts,
)
from agent.words.terms import (
    Term,
    meal,
)


class SampleDiscard(RecordData):
    """留样处理: one meal's food samples discarded once their keep time was over."""

    record_type: ClassVar[str] = "sample_discard"
    title: ClassVar[Term] = Term("留样处理", "Samples discarded")
    meal: Meal
    sampled_on: date
    samples: int = Field(ge=1, description="food_sample records of that meal and day")
    last_sampled_at: datetime = Field(description="the latest of them: the keep time counts from it")
    kept_hours: float = Field(ge=0, description="hours from last_sampled_at to the discard")
    sample_ids: list[str] = Field(default_factory=list, description="ids of the food_sample records discarded")
    discarded_by: str | None = Field(None, max_length=100, description="who discarded them, as the manager wrote it")
    remark: str | None = Field(None, max_length=500)

    def brief(self) -> list[Fact]:
        return facts(fact("餐次", "meal", meal(self.meal)), fact("留样日期", "sampled on", self.sampled_on),
                      fact("份数", "samples", self.samples), fact("保存", "kept", f"{self.kept_hours:.0f} 小时 h"),
                      fact("处理人", "by", self.discarded_by, is_name=True))
