"""A day's dishes, meal by meal, as every station and page asks for them.

One rule, so that ``#2`` at the additive station's keypad and ``#2`` on the console's
additive page name the same dish, and the food-sample and core-temperature stations list
what the platform and the school planned:

1. the menu the platform pushed for that day (``set_menu``), when it sent one;
2. else the school's own plan of the meal (``menu_plan``, the console's menu page);
3. else the config's menu (``site.menu``), the dishes serving that meal.

The pushed menu is kept per day under ``menu:<YYYY-MM-DD>`` (``MENU_KV_PREFIX``) so that
tomorrow's, pushed the evening before, never replaces today's.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from agent.config.settings import Settings
from agent.core.reads import Reads

MENU_KV_PREFIX = "menu:"  # + day: {"day": "YYYY-MM-DD", "meals": {"lunch": ["番茄炒蛋", ...]}, "at": ...}


def menu_key(day: date) -> str:
    return MENU_KV_PREFIX + day.isoformat()


def pushed_menu(reads: Reads, day: date) -> dict[str, list[str]] | None:
    """The platform's menu for ``day`` (meal -> dishes), or None when it sent none."""
    pushed: Any = reads.kv_get(menu_key(day))
    if not isinstance(pushed, dict) or not isinstance(pushed.get("meals"), dict):
        return None
    return {str(meal): [str(d) for d in dishes] for meal, dishes in pushed["meals"].items()
            if isinstance(dishes, list)}


def meal_dishes(reads: Reads, config: Settings, meal: str, day: date) -> list[str]:
    """The dishes of ``meal`` on ``day``, by the rule above."""
    pushed = pushed_menu(reads, day)
    if pushed is not None:
        return list(pushed.get(meal, []))
    planned = reads.menu_plans(day).get(meal)
    if planned is not None:
        return [str(d["name"]) for d in planned["data"]["dishes"]]
    return [d.name for d in config.site.menu if not d.meals or meal in d.meals]


def day_dishes(reads: Reads, config: Settings, day: date) -> list[str]:
    """Every dish of ``day`` once, meal by meal in the schedule's order (a meal only the
    platform's menu or a plan names comes after): the numbering ``#n`` picks from."""
    pushed = pushed_menu(reads, day)
    meals = list(config.schedules.meals)
    extra = pushed if pushed is not None else reads.menu_plans(day)
    meals += [m for m in extra if m not in meals]
    names = [dish for meal in meals for dish in meal_dishes(reads, config, meal, day)]
    return list(dict.fromkeys(names))
