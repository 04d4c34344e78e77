"""Schedules (meal windows, deadlines) and the site's own data (roster, menu, suppliers)."""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import Field

from agent.config.base import Strict
from drivers.config_types import PositiveMinutes


class MealWindow(Strict):
    start: time
    end: time
    sample_deadline: time | None = Field(None, description="All dishes sampled by then (default: end).")
    disinfection_deadline_min: PositiveMinutes = Field(120, description="Tableware disinfected within this after end.")
    weekdays: list[Literal[1, 2, 3, 4, 5, 6, 7]] = Field(
        [1, 2, 3, 4, 5, 6, 7], description="ISO weekdays served (1 = Monday); a day with no meal has no duties.")


def _default_meals() -> dict[str, MealWindow]:
    return {
        "breakfast": MealWindow(start=time(7, 0), end=time(8, 30)),
        "lunch": MealWindow(start=time(11, 30), end=time(13, 0)),
        "dinner": MealWindow(start=time(17, 0), end=time(18, 30)),
    }


class Schedules(Strict):
    morning_check_deadline: time = Field(time(9, 30), description="Everyone on today's roster checked by then.")
    meals: dict[str, MealWindow] = Field(default_factory=_default_meals)
    uv_rooms: list[str] = Field(default_factory=list, description="Rooms that need a UV/ozone run daily.")
    uv_deadline: time = time(21, 0)
    day_end: time = Field(time(23, 55), description="When the daily ledger is written.")
    missed_job_grace_s: int = Field(3600, ge=0, le=7 * 86400, description="After a power cut, missed jobs run within this.")


class MenuDish(Strict):
    name: str
    meals: list[str] = Field(default_factory=list, description="Meals serving it; empty = every meal.")


class StaffMember(Strict):
    staff_id: str
    name: str
    badges: list[str] = Field(default_factory=list)
    role: str = "cook"
    health_cert_expires_on: str | None = Field(None, description="YYYY-MM-DD.")
    on_duty: bool = True


class SiteConfig(Strict):
    """Site data the platform can also push (roster, menu)."""

    staff: list[StaffMember] = Field(default_factory=list)
    menu: list[MenuDish] = Field(default_factory=list)
    suppliers: dict[str, str] = Field(default_factory=dict, description="Supplier -> licence expiry date.")
