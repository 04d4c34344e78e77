"""食品留样 ``food_sample``: one dish of one meal, weighed into the sample fridge. Its data, its words and its rule."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import AwareDatetime

from agent.config.rules import Rules
from agent.records.base import Judgement, Meal, RecordData


class FoodSample(RecordData):
    """食品留样: one dish of one meal, weighed into the sample fridge."""

    record_type: ClassVar[str] = "food_sample"
    label: ClassVar[tuple[str, str]] = ("食品留样", "food sample")
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
