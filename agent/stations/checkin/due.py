"""The leader meal's duty: a school leader accompanies every meal served (陪餐)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from agent.config.settings import Settings
from agent.config.site import MealWindow
from agent.core.duties import DayFacts, DueItem, Duty, at_local, due_state, parse_time
from agent.words.terms import meal


def leader_meal_item(facts: DayFacts, meal: str, window: MealWindow, tz: ZoneInfo,
                     now: datetime) -> DueItem:
    deadline = at_local(facts.day, window.end, tz)
    records = [r for r in facts.of("leader_meal") if r["data"]["meal"] == meal]
    done_at = parse_time(records[0]["occurred_at"]) if records else None
    detail = ", ".join(r["data"].get("name") or r["data"]["staff_id"] for r in records)
    return DueItem("leader_meal", "leader_meal_missing", {"meal": meal, "day": facts.day.isoformat()},
                   meal, deadline, due_state(bool(records), deadline, now), meal=meal, done_at=done_at,
                   detail=detail)


def missing_message(item: DueItem) -> str:
    """The reminder while it is overdue, Chinese first."""
    due = f"{item.deadline:%H:%M}"
    meal_zh, meal_en = meal(item.meal).zh, (meal(item.meal).en or item.meal or "").capitalize()
    return f"{meal_zh}无领导陪餐记录 / No leader accompanied {meal_en.lower()} (due {due})"


LEADER_MEAL_MISSING = Duty("leader_meal_missing", "minor", missing_message)


def leader_meal_duty(facts: DayFacts, config: Settings, meal: str, window: MealWindow,
                     now: datetime) -> list[DueItem]:
    """The meal's leader, as the due list asks a kind for its duties of one meal."""
    return [leader_meal_item(facts, meal, window, config.identity.tz, now)]
