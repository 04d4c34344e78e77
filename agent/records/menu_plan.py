"""带量食谱 ``menu_plan``: one meal's planned dishes with their ingredients and grams per portion, and the energy and main nutrients per portion against the school-meal target. Its data, its words and its rule.

Planned ahead on the console; the figures come from the site's food composition table
(``nutrition.table``) at the time of planning and are part of the record, so it reads
alone (the platform sees what the school saw). The target is ``nutrition``'s (WS/T
554-2017: the day's energy for the age group times the meal's share, ±10 %); outside it
the verdict is a warning. A later plan of the same day and meal names the one it replaces.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from agent.config.nutrition import Composition
from agent.config.rules import Rules
from agent.records.base import Fact, Judgement, Meal, RecordData, fact, facts
from agent.words.terms import Term, meal


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MenuIngredient(_Part):
    item: str = Field(min_length=1, max_length=60)
    grams: float = Field(gt=0, le=2000, description="per portion")


class MenuDishPlan(_Part):
    name: str = Field(min_length=1, max_length=60)
    ingredients: list[MenuIngredient] = Field(min_length=1, max_length=30)


class Nutrients(_Part):
    energy_kcal: float = Field(ge=0)
    protein_g: float = Field(ge=0)
    fat_g: float = Field(ge=0)
    carbohydrate_g: float = Field(ge=0)


class UnknownIngredients(ValueError):
    def __init__(self, names: list[str]) -> None:
        super().__init__("not in the food composition table: " + ", ".join(names))
        self.names = names


def per_portion(dishes: list[MenuDishPlan], table: dict[str, Composition]) -> Nutrients:
    """The nutrients of one portion of every dish; ``UnknownIngredients`` names what the table lacks."""
    unknown = sorted({i.item for d in dishes for i in d.ingredients if i.item not in table})
    if unknown:
        raise UnknownIngredients(unknown)
    total = [0.0, 0.0, 0.0, 0.0]
    for dish in dishes:
        for part in dish.ingredients:
            c = table[part.item]
            for k, per_100 in enumerate((c.energy_kcal, c.protein_g, c.fat_g, c.carbohydrate_g)):
                total[k] += per_100 * part.grams / 100
    return Nutrients(energy_kcal=round(total[0], 1), protein_g=round(total[1], 1), fat_g=round(total[2], 1),
                     carbohydrate_g=round(total[3], 1))


class MenuPlan(RecordData):
    """带量食谱: a meal's dishes, ingredients and grams per portion, and what a portion gives."""

    record_type: ClassVar[str] = "menu_plan"
    title: ClassVar[Term] = Term("带量食谱", "Menu")
    day: date = Field(description="the day the meal is planned for")
    meal: Meal = Field(min_length=1, max_length=64)
    dishes: list[MenuDishPlan] = Field(min_length=1, max_length=20)
    per_portion: Nutrients
    age_group: str = Field(max_length=20)
    energy_target_kcal: tuple[float, float] | None = Field(None, description="low and high kcal per portion")
    replaces: str | None = Field(None, description="id of the earlier menu_plan of this day and meal")

    def judge(self, rules: Rules, day: date) -> Judgement:
        if self.energy_target_kcal is None:
            return Judgement(None)
        low, high = self.energy_target_kcal
        energy = self.per_portion.energy_kcal
        warns = ["energy_below_target"] if energy < low else ["energy_above_target"] if energy > high else []
        return Judgement.of([], warns)

    def brief(self) -> list[Fact]:
        target = (f"（{self.energy_target_kcal[0]:g}–{self.energy_target_kcal[1]:g} kcal）"
                  if self.energy_target_kcal else "")
        return facts(fact("餐次", "meal", f"{self.day} {meal(self.meal)}"),
                      fact("菜品", "dishes", "、".join(d.name for d in self.dishes)),
                      fact("每份能量", "energy per portion", f"{self.per_portion.energy_kcal:g} kcal{target}"))
