"""食品留样 ``food_sample``: one dish of one meal, weighed into the sample fridge. Its data, its words and its rule."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import AwareDatetime

from agent.config.rules import Rules
from agent.records.base import (
    Fact,
    Judgement,
    Meal,
    RecordData,
    fact,
    facts,
    grams_text,
    when_text,
)
from agent.words.terms import (
    Term,
    meal,
)


class FoodSample(RecordData):
    """食品留样: one dish of one meal, weighed into the sample fridge."""

    record_type: ClassVar[str] = "food_sample"
    title: ClassVar[Term] = Term("留样", "Food sample")
    provincial: ClassVar[int | None] = 3
    meal: Meal
    dish: str
    grams: float
    min_grams: float
    sampled_at: AwareDatetime
    kept_until: AwareDatetime
    fridge_id: str | None = None
    container: str | None = None

    def judge(self, rules: Rules, day: date) -> Judgement:
        fails = ["underweight_sample"] if self.grams < self.min_grams else []
        return Judgement.of(fails, [])

    def brief(self) -> list[Fact]:
        return facts(fact("餐次", "meal", meal(self.meal)), fact("菜品", "dish", self.dish),
                      fact("重量", "weight", f"{grams_text(self.grams)}（≥ {grams_text(self.min_grams)}）"),
                      fact("留样至", "kept until", when_text(self.kept_until)))
