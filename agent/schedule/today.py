"""``canteen-agent today``: what is done and what is still due, for the canteen manager.

The items come from ``due.due_items``, the same computation the reminder jobs use.
Marks: ✔ done, ✘ overdue (an alarm is open for it), · still to come, ! checked but not
fit for duty (a morning check that failed: fever, symptoms ...).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, time

from agent.config.settings import Settings
from agent.config.site import MealWindow
from agent.core.duties import DayFacts, DueItem
from agent.core.reads import Reads
from agent.schedule.due import due_items, gather_facts, meal_label, served_meals
from agent.schedule.expiry import ExpiryItem, expiry_items

MARK = {"done": "✔", "overdue": "✘", "missing": "·"}
NOT_FIT = "!"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DUTY_TEXT = {"samples": "留样 samples", "leader_meal": "陪餐 leader meal",
              "disinfection": "餐具消毒 tableware disinfection"}
_EXPIRY_TEXT = {"health_certificate": "健康证 health cert", "supplier_licence": "许可证 supplier licence",
                "ingredient": "食材 ingredient"}


@dataclass
class TodayView:
    now: datetime
    facts: DayFacts
    items: list[DueItem]
    expiry: list[ExpiryItem]
    open_alarms: int


def today_view(store: Reads, config: Settings, now: datetime) -> TodayView:
    day = now.astimezone(config.identity.tz).date()
    facts = gather_facts(store, config, day).as_of(now)  # "served: …" too, as it stood at ``now``
    return TodayView(now, facts, due_items(facts, config, now), expiry_items(store, config, day),
                     len(store.open_alarms()))


def render_today(view: TodayView, config: Settings) -> str:
    day = view.facts.day
    ident = config.identity
    items = view.items
    lines = [f"{_heading(view, config)}  ({ident.canteen_id} / {ident.agent_id})"]
    count = {s: sum(1 for i in items if i.state == s) for s in MARK}
    lines.append(f"done {count['done']} of {len(items)} · overdue {count['overdue']} · "
                 f"still to come {count['missing']}")
    if not served_meals(config, day):
        lines.append("no meal served today: no duties due / 今日无供餐")
    lines += _morning_checks(items, config)
    for meal, window in served_meals(config, day):
        lines += _meal(meal, window, items, view.facts)
    lines += _section("紫外线消毒 UV / ozone", [i for i in items if i.duty == "uv_run"])
    discards = [i for i in items if i.duty == "sample_discard"]
    if discards:
        lines += ["", "留样到期 Samples past their keep time"]
        for item in discards:
            hint = "discarded" if item.is_done else (
                f"discard, then: canteen-agent discard-samples --day {item.subject['day']} --meal {item.meal}")
            lines.append(f"  {MARK[item.state]} {_pad(item.label, 24)} {item.detail} · {hint}")
    if view.expiry:
        lines += ["", "到期提醒 Expiry warnings"]
        for e in view.expiry:
            left = "EXPIRED" if e.days_left < 0 else "today" if e.days_left == 0 else f"{e.days_left} days"
            lines.append(f"  ! {_pad(_EXPIRY_TEXT[e.what], 26)} {_pad(e.label, 30)} {e.expires_on} ({left})")
    lines += ["", f"未处理告警 open alarms now: {view.open_alarms}  (canteen-agent status)"]
    return "\n".join(lines)


def _morning_checks(items: list[DueItem], config: Settings) -> list[str]:
    checks = [i for i in items if i.duty == "morning_check"]
    if not checks:
        return []
    done = sum(1 for i in checks if i.is_done)
    head = (f"晨检 Morning checks, by {config.schedules.morning_check_deadline:%H:%M}"
            f"  {done}/{len(checks)} done")
    lines = ["", head]
    for item in checks:
        if item.is_done and item.verdict == "fail":
            reason = f": {item.detail}" if item.detail else ""
            lines.append(f"  {NOT_FIT} {_pad(item.label, 24)} {_when(item)}  不合格 not fit for duty{reason}")
        else:
            lines.append(f"  {MARK[item.state]} {_pad(item.label, 24)} {_when(item)}")
    return lines


def _heading(view: TodayView, config: Settings) -> str:
    """今日 Today for today; the date itself for another day (its end, or --at)."""
    tz = config.identity.tz
    now = view.now.astimezone(tz)
    day = view.facts.day
    weekday = WEEKDAYS[day.weekday()]
    if day == datetime.now(tz).date():
        return f"今日 Today {day} {weekday}, as of {now:%H:%M}"
    at = "at the end of the day" if now.time() >= time(23, 59) else f"as it stood at {now:%H:%M}"
    return f"日期 Day {day} {weekday} (past day), {at}"


def _meal(meal: str, window: MealWindow, items: list[DueItem], facts: DayFacts) -> list[str]:
    served = [r["data"] for r in facts.of("meal_service") if r["data"]["meal"] == meal]
    registered = f"served: {served[-1]['diners']} diners" if served else "meal not registered yet"
    lines = ["", f"{meal_label(meal)} {window.start:%H:%M}–{window.end:%H:%M}  · {registered}"]
    for item in (i for i in items if i.meal == meal and i.duty in _DUTY_TEXT):
        text = _DUTY_TEXT[item.duty]
        lines.append(f"  {MARK[item.state]} {_pad(text, 32)} {_pad(_when(item), 19)} {item.detail}".rstrip())
    return lines


def _section(title: str, items: list[DueItem]) -> list[str]:
    if not items:
        return []
    lines = ["", f"{title}, by {items[0].deadline:%H:%M}"]
    for item in items:
        lines.append(f"  {MARK[item.state]} {_pad(item.label, 24)} {_pad(_when(item), 19)} {item.detail}".rstrip())
    return lines


def _when(item: DueItem) -> str:
    if item.is_done:
        return f"{item.done_at:%H:%M}" if item.done_at else "done"
    if item.state == "overdue":
        return f"OVERDUE since {item.deadline:%H:%M}"
    return f"due {item.deadline:%H:%M}"


def _pad(text: str, width: int) -> str:
    """Left-justify counting CJK characters as two columns, as terminals show them."""
    shown = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - shown)
