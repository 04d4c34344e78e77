"""Reminders: the alarm (kind, subject, message) that stands for each overdue duty.

Messages are written for the canteen manager, Chinese first then English, and name
what to do: ``晨检未完成：王五 (S003)，截止 09:30 / Morning check missing: 王五 (S003),
due 09:30``. They carry no health data: only that a check is missing, never a result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent.core.duties import DueItem
from agent.core.recorder import alarm_key
from agent.records.alarm import Severity
from agent.stations.registry import DUTIES
from agent.words.terms import meal, room

# the schedule's own reminders; each station kind brings its duties' (``agent.stations.registry``)
OWN_SEVERITY: dict[str, Severity] = {
    "sample_discard_due": "minor", "disinfection_missing": "major", "uv_run_missing": "minor"}
SEVERITY: dict[str, Severity] = {**OWN_SEVERITY, **{alarm: duty.severity for alarm, duty in DUTIES.items()}}
REMINDER_KINDS = tuple(SEVERITY)


@dataclass(frozen=True)
class AlarmWant:
    """An alarm that should be open now."""

    kind: str
    subject: dict[str, str]
    message: str
    severity: Severity
    details: dict[str, Any] = field(default_factory=dict)
    deadline: datetime | None = None

    @property
    def key(self) -> str:
        return alarm_key(self.kind, self.subject)


def reminder_for(item: DueItem) -> AlarmWant:
    """The alarm for one overdue item."""
    details: dict[str, Any] = {"deadline": item.deadline.isoformat(timespec="seconds")}
    if item.missing:
        details["missing"] = list(item.missing)
    if item.detail:
        details["detail"] = item.detail
    return AlarmWant(item.kind, dict(item.subject), reminder_message(item), SEVERITY[item.kind],
                     details, item.deadline)


def reminder_message(item: DueItem) -> str:
    duty = DUTIES.get(item.kind)
    if duty is not None:  # a station kind's duty: its own words
        return duty.message(item)
    due = f"{item.deadline:%H:%M}"
    meal_zh, meal_en = meal(item.meal).zh, (meal(item.meal).en or item.meal or "").capitalize()
    if item.kind == "sample_discard_due":
        day = item.subject["day"]
        return (f"{day[5:]} {meal_zh}留样已满保存期，请处理并确认 / "
                f"{meal_en} samples of {day} are past their keep time: discard and confirm")
    if item.kind == "disinfection_missing":
        return (f"{meal_zh}后餐具消毒未记录，截止 {due} / "
                f"No tableware disinfection recorded after {meal_en.lower()}, due {due}")
    if item.kind == "uv_run_missing":
        where = room(item.subject.get("room"))
        return (f"{where.zh} 今日紫外线/臭氧消毒未完成，截止 {due} / "
                f"No UV/ozone run in the {where.en or where.zh} today, due {due}")
    raise ValueError(f"no reminder for kind {item.kind!r}")


def clear_message(kind: str, subject: dict[str, str], item: DueItem | None, today: str) -> str:
    """Why a reminder's alarm ends: done, the day closed, or no longer due."""
    if item is not None and item.is_done:
        if kind == "sample_discard_due":
            return "已确认处理 / discard confirmed"
        return f"已完成 / done: {item.label}"
    day = subject.get("day", today)
    if kind != "sample_discard_due" and day < today:
        return (f"{day} 日终仍未完成，已记入当日台账 / "
                f"day {day} closed with this still missing: see that day's ledger")
    if kind == "sample_discard_due":
        return "不再跟踪，请核对留样柜 / no longer tracked: check the sample fridge"
    return "不再需要 / no longer due (roster or schedule changed)"
