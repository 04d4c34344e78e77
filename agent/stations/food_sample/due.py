"""The food samples' duty: every dish of every meal served sampled by the meal's sample deadline."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from agent.config.settings import Settings
from agent.config.site import MealWindow
from agent.core.duties import DayFacts, DueItem, Duty, at_local, due_state, parse_time
from agent.words.terms import meal


def expected_dishes(facts: DayFacts, config: Settings, meal: str) -> list[str]:
    """Dishes to sample: the meal_service registration if it names dishes, else the menu."""
    for record in reversed(facts.of("meal_service")):
        data = record["data"]
        if data["meal"] == meal and data.get("dishes"):
            return unique(d.strip() for d in data["dishes"])
    return unique(d.name.strip() for d in config.site.menu if not d.meals or meal in d.meals)


def samples_item(facts: DayFacts, config: Settings, meal: str, window: MealWindow,
                 now: datetime) -> DueItem:
    deadline = at_local(facts.day, window.sample_deadline or window.end, config.identity.tz)
    good: dict[str, datetime] = {}
    failed: set[str] = set()
    for record in facts.of("food_sample"):
        data = record["data"]
        if data["meal"] != meal:
            continue
        dish = data["dish"].strip()
        if record.get("verdict") == "fail":
            failed.add(dish)
        else:
            good.setdefault(dish, parse_time(data["sampled_at"]))
    expected = expected_dishes(facts, config, meal)
    if expected:
        missing = tuple(d for d in expected if d not in good)
        progress = (len(expected) - len(missing), len(expected))
        detail = f"已留 {progress[0]}/{progress[1]} 道 dishes"
        done_at = max((good[d] for d in expected if d in good), default=None)
    else:  # no menu known: at least one dish must be sampled
        missing = () if good else ("(any dish)",)
        progress = (len(good), max(1, len(good)))
        detail = f"已留 {len(good)} 道（无菜单）dishes (no menu)"
        done_at = max(good.values(), default=None)
    if missing and expected:
        detail += " · 待留 to do: " + "、".join(missing)
    underweight = sorted(d for d in failed if d in missing)
    if underweight:
        detail += " · 重量不足 underweight: " + "、".join(underweight)
    return DueItem("samples", "samples_missing", {"meal": meal, "day": facts.day.isoformat()}, meal,
                   deadline, due_state(not missing, deadline, now), meal=meal,
                   done_at=None if missing else done_at, detail=detail, missing=missing,
                   progress=progress)


def missing_message(item: DueItem) -> str:
    """The reminder while it is overdue, Chinese first."""
    due = f"{item.deadline:%H:%M}"
    meal_zh, meal_en = meal(item.meal).zh, (meal(item.meal).en or item.meal or "").capitalize()
    dishes_zh = "、".join(item.missing)
    dishes_en = ", ".join(item.missing)
    done, expected = item.progress or (0, 0)
    return (f"{meal_zh}留样未完成（已留 {done}/{expected} 道），缺：{dishes_zh}，截止 {due} / "
            f"{meal_en} samples missing ({done}/{expected} sampled): {dishes_en}, due {due}")


SAMPLES_MISSING = Duty("samples_missing", "major", missing_message)


def unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(n for n in names if n))


def samples_duty(facts: DayFacts, config: Settings, meal: str, window: MealWindow, now: datetime) -> list[DueItem]:
    """The meal's samples, as the due list asks a kind for its duties of one meal."""
    return [samples_item(facts, config, meal, window, now)]
