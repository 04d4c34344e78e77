"""添加剂领用 ``additive_usage``: additive taken from the dedicated cabinet. Its data, its words and its rule."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import Field

from agent.config.rules import Rules
from agent.records.base import (
    Fact,
    Judgement,
    RecordData,
    fact,
    facts,
    grams_text,
)
from agent.words.terms import (
    Term,
)


class AdditiveUsage(RecordData):
    """添加剂领用: additive taken from the dedicated cabinet."""

    record_type: ClassVar[str] = "additive_usage"
    title: ClassVar[Term] = Term("添加剂领用", "Additive used")
    provincial: ClassVar[int | None] = 8
    additive: str
    grams: float = Field(description="weight taken (before minus after)")
    before_g: float | None = None
    after_g: float | None = None
    batch: str | None = None
    food: str | None = None
    limit_g: float | None = None

    def judge(self, rules: Rules, day: date) -> Judgement:
        limit = self.limit_g if self.limit_g is not None else rules.additive_limits_g.get(self.additive)
        if limit is None:
            return Judgement(None)
        return Judgement.of(["additive_over_limit"] if self.grams > limit else [], [])

    def brief(self) -> list[Fact]:
        limit = f"（限量 limit {grams_text(self.limit_g)}）" if self.limit_g is not None else ""
        return facts(fact("添加剂", "additive", self.additive), fact("用量", "amount", grams_text(self.grams) + limit),
                      fact("用于", "food", self.food), fact("批次", "batch", self.batch))
