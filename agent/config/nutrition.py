"""The ``nutrition:`` section: the food composition table the site imports and the
school-meal targets a menu is compared with.

Targets per day by age group are from WS/T 554-2017 《学生餐营养指南》 (National Health
and Family Planning Commission, 2017), table 1 (energy and nutrients per student per day),
here the mean of its boys' and girls' figures: 9–11 years 2100 / 1900 kcal, 12–14 years
2450 / 2100 kcal, 15–17 years 2900 / 2350 kcal; protein 50 / 50, 65 / 60 and 75 / 60 g.
Its section 3.3 gives each meal's share of the day (breakfast 25–30 %, lunch 35–40 %,
dinner 30–35 %), and its note to table 1 accepts energy within 90–110 % of the standard.
A site with younger pupils (6–8) or its own figures sets ``daily_energy_kcal`` and
``daily_protein_g`` for its ``age_group``.

The composition table is a CSV with a header ``name, energy_kcal, protein_g, fat_g,
carbohydrate_g`` (per 100 g, edible part; more columns are ignored). The shipped one is
``food_composition.csv`` beside this module (USDA FoodData Central, public domain; see
``food_composition.md``). A malformed line is refused with its line number.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, FilePath, model_validator

from agent.config.base import Strict

SHIPPED_TABLE = Path(__file__).with_name("food_composition.csv")
COLUMNS = ("energy_kcal", "protein_g", "fat_g", "carbohydrate_g")
NAME_MAX = 60


class TableError(ValueError):
    """A composition table that cannot be used, and the line that says why."""


@dataclass(frozen=True)
class Composition:
    """Per 100 g of the edible part."""

    energy_kcal: float
    protein_g: float
    fat_g: float
    carbohydrate_g: float


def parse_table(text: str, source: str = "table") -> dict[str, Composition]:
    """name -> composition; ``TableError`` naming the first bad line (1 is the header)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None:
        raise TableError(f"{source}: empty (a header line name,{','.join(COLUMNS)} is needed)")
    names = [h.strip() for h in header]
    missing = [c for c in ("name", *COLUMNS) if c not in names]
    if missing:
        raise TableError(f"{source} line 1: the header lacks {', '.join(missing)}")
    at = {c: names.index(c) for c in ("name", *COLUMNS)}
    table: dict[str, Composition] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(names):
            raise TableError(f"{source} line {line}: {len(row)} fields, the header has {len(names)}")
        name = row[at["name"]].strip()
        if not name or len(name) > NAME_MAX:
            raise TableError(f"{source} line {line}: a name of 1 to {NAME_MAX} characters is needed")
        if name in table:
            raise TableError(f"{source} line {line}: {name!r} is already on an earlier line")
        values = []
        for column in COLUMNS:
            cell = row[at[column]].strip()
            try:
                value = float(cell)
            except ValueError:
                raise TableError(f"{source} line {line}: {column} {cell!r} is not a number") from None
            if not math.isfinite(value) or value < 0 or value > (900 if column == "energy_kcal" else 100):
                raise TableError(f"{source} line {line}: {column} {cell!r} is out of range per 100 g")
            values.append(value)
        table[name] = Composition(*values)
    if not table:
        raise TableError(f"{source}: no ingredients")
    return table


def load_table(path: Path) -> dict[str, Composition]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TableError(f"{path}: cannot be read ({exc.__class__.__name__})") from None
    return parse_table(text, str(path))


class NutritionConfig(Strict):
    table: FilePath | None = Field(None, description="The site's food composition CSV (default: the shipped one).")
    age_group: str = Field("9-11", description="The pupils' age group: a key of daily_energy_kcal.")
    daily_energy_kcal: dict[str, float] = Field(
        {"9-11": 2000, "12-14": 2275, "15-17": 2625},
        description="Energy per pupil per day by age group (WS/T 554-2017 table 1, mean of boys and girls).")
    daily_protein_g: dict[str, float] = Field(
        {"9-11": 50, "12-14": 62.5, "15-17": 67.5},
        description="Protein per pupil per day by age group (WS/T 554-2017 table 1, mean of boys and girls).")
    meal_share: dict[str, tuple[float, float]] = Field(
        {"breakfast": (0.25, 0.30), "lunch": (0.35, 0.40), "dinner": (0.30, 0.35)},
        description="Each meal's share of the day's energy, low and high (WS/T 554-2017, 3.3).")
    tolerance: float = Field(0.10, ge=0, le=0.5, description="Energy accepted within this fraction of the target "
                                                              "(WS/T 554-2017: 90-110 %).")

    @model_validator(mode="after")
    def _known_group_and_readable_table(self) -> NutritionConfig:
        if self.age_group not in self.daily_energy_kcal:
            raise ValueError(f"nutrition.age_group {self.age_group!r} has no daily_energy_kcal "
                             f"(known: {', '.join(self.daily_energy_kcal)})")
        for meal, (low, high) in self.meal_share.items():
            if not 0 < low <= high <= 1:
                raise ValueError(f"nutrition.meal_share.{meal}: 0 < low <= high <= 1")
        if self.table is not None:
            try:
                load_table(self.table)
            except TableError as exc:
                raise ValueError(str(exc)) from None
        return self

    def composition(self) -> dict[str, Composition]:
        return load_table(self.table or SHIPPED_TABLE)

    def energy_target(self, meal: str) -> tuple[float, float] | None:
        """(low, high) kcal per portion for this meal, the tolerance included; None for a
        meal with no share configured."""
        share = self.meal_share.get(meal)
        if share is None:
            return None
        day = self.daily_energy_kcal[self.age_group]
        return round(day * share[0] * (1 - self.tolerance)), round(day * share[1] * (1 + self.tolerance))
