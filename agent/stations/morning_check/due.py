"""The morning check's duty: everyone on duty in the roster checked by ``schedules.morning_check_deadline``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agent.config.settings import Settings
from agent.core.duties import DayFacts, DueItem, Duty, at_local, due_state, parse_time
from agent.records.findings import finding_term


def morning_checks(facts: DayFacts, config: Settings, now: datetime) -> list[DueItem]:
    deadline = at_local(facts.day, config.schedules.morning_check_deadline, config.identity.tz)
    first_check: dict[str, datetime] = {}
    last_check: dict[str, dict[str, Any]] = {}  # a re-check decides fitness for duty
    for record in facts.of("staff_health_check"):
        staff_id = record["data"]["staff_id"]
        first_check.setdefault(staff_id, parse_time(record["occurred_at"]))
        last_check[staff_id] = record
    items = []
    for person in facts.roster:
        if not person.get("on_duty", True):
            continue
        staff_id = person["staff_id"]
        done_at = first_check.get(staff_id)
        label = f"{person.get('name') or '?'} ({staff_id})"
        last = last_check.get(staff_id, {})
        items.append(DueItem("morning_check", "morning_check_missing",
                             {"staff_id": staff_id, "day": facts.day.isoformat()}, label, deadline,
                             due_state(done_at is not None, deadline, now), done_at=done_at,
                             verdict=last.get("verdict"),
                             detail="、".join(str(finding_term(f)) for f in last.get("findings") or [])))
    return items


def missing_message(item: DueItem) -> str:
    """The reminder while it is overdue, Chinese first."""
    due = f"{item.deadline:%H:%M}"
    return f"晨检未完成：{item.label}，截止 {due} / Morning check missing: {item.label}, due {due}"


MORNING_CHECK_MISSING = Duty("morning_check_missing", "major", missing_message)
