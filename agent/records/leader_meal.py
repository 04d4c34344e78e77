"""领导陪餐 ``leader_meal``: a school leader accompanied a meal. Its data, its words and its rule."""

from __future__ import annotations

from typing import ClassVar

from agent.records.base import (
    Fact,
    Meal,
    RecordData,
    fact,
    facts,
    who_text,
)
from agent.words.terms import (
    Term,
    meal,
)


class LeaderMeal(RecordData):
    """领导陪餐: a school leader accompanied a meal."""

    record_type: ClassVar[str] = "leader_meal"
    title: ClassVar[Term] = Term("领导陪餐", "Leader meal")
    provincial: ClassVar[int | None] = 4
    meal: Meal
    staff_id: str
    name: str | None = None
    role: str | None = None
    remarks: str | None = None

    def brief(self) -> list[Fact]:
        return facts(fact("陪餐人", "leader", who_text(self.name, self.staff_id)), fact("餐次", "meal", meal(self.meal)),
                      fact("备注", "remarks", self.remarks))
