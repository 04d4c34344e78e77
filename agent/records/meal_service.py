"""供餐登记 ``meal_service``: 供应餐次/就餐人数: a meal served and how many ate. Its data, its words and its rule."""

from __future__ import annotations

from datetime import date
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
    YES_NO,
    Term,
    meal,
)


class MealService(RecordData):
    """供应餐次/就餐人数: a meal served and how many ate."""

    record_type: ClassVar[str] = "meal_service"
    title: ClassVar[Term] = Term("供餐登记", "Meal served")
    meal: Meal
    served_on: date
    diners: int = Field(ge=0)
    dishes: list[str] = Field(default_factory=list)
    corrects: str | None = Field(None, description="id of the meal_service record of the same meal and "
                                                   "day that this one replaces (a corrected registration)")

    def brief(self) -> list[Fact]:
        return facts(fact("餐次", "meal", meal(self.meal)), fact("日期", "day", self.served_on),
                      fact("就餐人数", "diners", self.diners), fact("菜品", "dishes", "、".join(self.dishes)),
                      fact("更正", "correction", YES_NO[True]) if self.corrects else None)
