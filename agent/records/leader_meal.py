"""领导陪餐 ``leader_meal``: a school leader accompanied a meal. Its data, its words and its rule."""

from __future__ import annotations

from typing import ClassVar

from agent.records.base import Meal, RecordData


class LeaderMeal(RecordData):
    """领导陪餐: a school leader accompanied a meal."""

    record_type: ClassVar[str] = "leader_meal"
    label: ClassVar[tuple[str, str]] = ("领导陪餐", "leader meal")
    provincial: ClassVar[int | None] = 4
    meal: Meal
    staff_id: str
    name: str | None = None
    role: str | None = None
    remarks: str | None = None
