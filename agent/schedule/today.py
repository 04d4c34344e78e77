"""``canteen-agent today``: what is done and what is still due, for the canteen manager.

The items come from ``due.due_items``, the same computation the reminder jobs use.
Marks: ✔ done, ✘ overdue (an alarm is open for it), · still to come, ! checked and found
unfit that day (a fever, symptoms ...), whether still off duty or back after a manager's
rectification: a passing re-check never hides it. Every line reads Chinese first.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, time

from agent.config.settings import Settings
from agent.config.site import MealWindow
from agent.core.duties import DayFacts, DueItem
from agent.core.reads import Reads
from agent.records.findings import finding_term
from agent.schedule.due import (
    Unfit,
    due_items,
    gather_facts,
    meal_label,
    served_meals,
    unfit_outcomes,
)
from agent.schedule.expiry import ExpiryItem, expiry_items
from agent.words.terms import Term

MARK = {"done": "✔", "overdue": "✘", "missing": "·"}
NOT_FIT = "!"
WEEKDAYS = (("周一", "Mon"), ("周二", "Tue"), ("周三", "Wed"), ("周四", "Thu"), ("周五", "Fri"),
            ("周六", "Sat"), ("周日", "Sun"))
_DUTY_TEXT = {"samples": "留样 samples", "leader_meal": "陪餐 leader meal",
              "disinfection": "餐具消毒 tableware disinfection"}
_EXPIRY_TEXT = {"health_certificate": "健康证 health cert", "supplier_licence": "许可证 supplier licence",
                "ingredient": "食材 ingredient", "canteen_licence": "食品经营许可证 food business licence",
                "maintenance": "设备维保 maintenance due", "calibration": "计量器具检定 calibration due"}


def expiry_line(e: ExpiryItem) -> str:
    """``健康证 health cert：王五 (S003) 2026-11-28（剩 5 天 5 days left）``."""
    return f"{_EXPIRY_TEXT[e.what]}：{e.label} {e.expires_on}（{days_left(e.days_left)}）"


def days_left(n: int) -> str:
    if n < 0:
        return "已过期 expired"
    return "今天到期 today" if n == 0 else f"剩 {n} 天 {n} days left"
# what came of a failed morning check (agent.schedule.due.unfit_outcomes)
UNFIT: dict[str, Term] = {
    "off_duty": Term("不合格：今日停岗", "failed: off duty today"),
    "restored": Term("不合格：整改后恢复上岗", "failed: fit again after rectification"),
}


@dataclass
class TodayView:
    now: datetime
    facts: DayFacts
    items: list[DueItem]
    expiry: list[ExpiryItem]
    open_alarms: int
    unfit: dict[str, Unfit] = field(default_factory=dict)  # staff_id -> a failed check that day


def today_view(store: Reads, config: Settings, now: datetime) -> TodayView:
    day = now.astimezone(config.identity.tz).date()
    facts = gather_facts(store, config, day).as_of(now)  # "served: …" too, as it stood at ``now``
    return TodayView(now, facts, due_items(facts, config, now), expiry_items(store, config, day),
                     len(store.open_alarms()), unfit_outcomes(facts))


def unfit_text(unfit: Unfit) -> str:
    """``不合格：今日停岗 failed: off duty today（体温超标 fever）``."""
    reason = "、".join(str(finding_term(f)) for f in unfit.findings)
    return f"{UNFIT[unfit.outcome]}" + (f"（{reason}）" if reason else "")


def render_today(view: TodayView, config: Settings) -> str:
    day = view.facts.day
    ident = config.identity
    items = view.items
    lines = [f"{_heading(view, config)}  ({ident.canteen_id} / {ident.agent_id})"]
    count = {s: sum(1 for i in items if i.state == s) for s in MARK}
    lines.append(f"已完成 done {count['done']}/{len(items)} · 已超时 overdue {count['overdue']} · "
                 f"待完成 to come {count['missing']}")
    if not served_meals(config, day):
        lines.append("今日无供餐 no meal served today: no duties due")
    lines += _morning_checks(items, config, view.unfit)
    for meal, window in served_meals(config, day):
        lines += _meal(meal, window, items, view.facts)
    lines += _section("紫外线/臭氧消毒 UV / ozone", [i for i in items if i.duty == "uv_run"])
    discards = [i for i in items if i.duty == "sample_discard"]
    if discards:
        lines += ["", "留样到期 Samples past their keep time"]
        for item in discards:
            hint = "已销毁 discarded" if item.is_done else (
                f"销毁后确认 discard, then: canteen-agent discard-samples --day {item.subject['day']}"
                f" --meal {item.meal}")
            lines.append(f"  {MARK[item.state]} {_pad(item.label, 24)} {item.detail} · {hint}")
    if view.expiry:
        lines += ["", "到期提醒 Expiry warnings"]
        for e in view.expiry:
            lines.append(f"  ! {_pad(_EXPIRY_TEXT[e.what], 26)} {_pad(e.label, 30)} {e.expires_on}"
                         f" ({days_left(e.days_left)})")
    lines += ["", f"未处理告警 open alarms now: {view.open_alarms}  (canteen-agent status)"]
    return "\n".join(lines)


def _morning_checks(items: list[DueItem], config: Settings, unfit: dict[str, Unfit]) -> list[str]:
    checks = [i for i in items if i.duty == "morning_check"]
    if not checks:
        return []
    done = sum(1 for i in checks if i.is_done)
    head = (f"晨检 Morning checks，截止 by {config.schedules.morning_check_deadline:%H:%M}"
            f"  已完成 done {done}/{len(checks)}")
    lines = ["", head]
    for item in checks:
        found = unfit.get(item.subject.get("staff_id", ""))
        if item.is_done and found is not None:
            lines.append(f"  {NOT_FIT} {_pad(item.label, 24)} {_when(item)}  {unfit_text(found)}")
        else:
            lines.append(f"  {MARK[item.state]} {_pad(item.label, 24)} {_when(item)}")
    return lines


def _heading(view: TodayView, config: Settings) -> str:
    """今日 Today for today; the date itself for another day (its end, or --at)."""
    tz = config.identity.tz
    now = view.now.astimezone(tz)
    day = view.facts.day
    weekday_zh, weekday_en = WEEKDAYS[day.weekday()]
    if day == datetime.now(tz).date():
        return f"今日 Today {day} {weekday_zh} {weekday_en}，截至 as of {now:%H:%M}"
    at = ("当日结束时 at the end of the day" if now.time() >= time(23, 59)
          else f"截至当日 {now:%H:%M} as it stood at {now:%H:%M}")
    return f"日期 Day {day} {weekday_zh} {weekday_en}（往日 past day），{at}"


def _meal(meal: str, window: MealWindow, items: list[DueItem], facts: DayFacts) -> list[str]:
    served = [r["data"] for r in facts.of("meal_service") if r["data"]["meal"] == meal]
    registered = (f"已登记就餐 {served[-1]['diners']} 人 served: {served[-1]['diners']} diners" if served
                  else "供餐未登记 meal not registered yet")
    lines = ["", f"{meal_label(meal)} {window.start:%H:%M}–{window.end:%H:%M}  · {registered}"]
    for item in (i for i in items if i.meal == meal and i.duty in _DUTY_TEXT):
        text = _DUTY_TEXT[item.duty]
        lines.append(f"  {MARK[item.state]} {_pad(text, 32)} {_pad(_when(item), 24)} {item.detail}".rstrip())
    return lines


def _section(title: str, items: list[DueItem]) -> list[str]:
    if not items:
        return []
    lines = ["", f"{title}，截止 by {items[0].deadline:%H:%M}"]
    for item in items:
        lines.append(f"  {MARK[item.state]} {_pad(item.label, 24)} {_pad(_when(item), 24)} {item.detail}".rstrip())
    return lines


def _when(item: DueItem) -> str:
    if item.is_done:
        return f"{item.done_at:%H:%M}" if item.done_at else "已完成 done"
    if item.state == "overdue":
        return f"已超时 OVERDUE since {item.deadline:%H:%M}"
    return f"截止 due {item.deadline:%H:%M}"


def _pad(text: str, width: int) -> str:
    """Left-justify counting CJK characters as two columns, as terminals show them."""
    shown = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - shown)
