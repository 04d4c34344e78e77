"""供餐登记 ``meal_service``: 供应餐次/就餐人数: a meal served and how many ate. Its data, its words and its rule."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import Field

from agent.records.base import Meal, RecordData


class MealService(RecordData):
    """供应餐次/就餐人数: a meal served and how many ate."""

    record_type: ClassVar[str] = "meal_service"
    label: ClassVar[tuple[str, str]] = ("供餐登记", "meal served")
    meal: Meal
    served_on: date
    diners: int = Field(ge=0)
    dishes: list[str] = Field(default_factory=list)
    corrects: str | None = Field(None, description="id of the meal_service record of the same meal and "
                                                   "day that this one replaces (a corrected registration)")
