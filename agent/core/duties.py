"""What is due: the vocabulary of duties, shared by the schedule and the kinds that add duties.

A station kind's due rules (``agent/stations/<kind>/due.py``) and the schedule's own
(disinfection, UV runs, sample discards) each turn one day's ``DayFacts`` (a snapshot of
the day's records and roster) into ``DueItem`` s; ``agent.schedule.due`` lists them all
and the reminders raise an alarm for every overdue one (``Duty``: its alarm, its words).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo

from agent.core.recorder import alarm_key
from agent.records.alarm import Severity

DueState = Literal["done", "missing", "overdue"]
MEAL_NAMES_ZH = {"breakfast": "早餐", "lunch": "午餐", "dinner": "晚餐", "snack": "加餐"}


@dataclass(frozen=True)
class DueItem:
    """One duty on one day (or one batch of samples to discard)."""

    duty: str  # morning_check, samples, leader_meal, disinfection, uv_run, sample_discard
    kind: str  # the alarm kind raised while it is overdue
    subject: dict[str, str]
    label: str  # who or what, for people: "张三 (S003)", "lunch", "kitchen"
    deadline: datetime
    state: DueState
    meal: str | None = None
    done_at: datetime | None = None
    detail: str = ""  # for people, Chinese first: "已留 2/3 道 dishes", "不合格 1 次 failed" ...
    missing: tuple[str, ...] = ()  # dishes still to sample
    progress: tuple[int, int] | None = None  # (done, expected) for multi-part duties
    verdict: str | None = None  # morning_check: the latest check's verdict (fail: not fit for duty)

    @property
    def key(self) -> str:
        return alarm_key(self.kind, self.subject)

    @property
    def is_done(self) -> bool:
        return self.state == "done"


@dataclass
class DayFacts:
    """Everything ``due_items`` needs, read from the store once."""

    day: date
    roster: list[dict[str, Any]]
    records: dict[str, list[dict[str, Any]]]  # record type -> that day's records, in seq order
    recent_samples: list[dict[str, Any]] = field(default_factory=list)  # food_sample, lookback days
    discarded: dict[tuple[str, str], Any] = field(default_factory=dict)  # (day, meal) -> confirmation

    def of(self, record_type: str) -> list[dict[str, Any]]:
        return self.records.get(record_type, [])

    def as_of(self, now: datetime) -> DayFacts:
        """The records as they stood at ``now``: later ones left out (``today --at 09:40``
        on a finished day, a ledger written after its day). Discard confirmations are
        kept: they are made on another clock (the CLI's) and only ever end a reminder."""
        def before(record: dict[str, Any]) -> bool:
            return parse_time(record["occurred_at"]) <= now

        return DayFacts(
            day=self.day, roster=self.roster,
            records={t: [r for r in rs if before(r)] for t, rs in self.records.items()},
            recent_samples=[r for r in self.recent_samples if before(r)], discarded=self.discarded)




@dataclass(frozen=True)
class Duty:
    """A kind of due item: the alarm raised while one is overdue, and its reminder's words
    (the alarm kind's title is in ``agent.words.alarms``, with every alarm's)."""

    alarm: str  # the alarm kind (``DueItem.kind``)
    severity: Severity
    message: Callable[[DueItem], str]  # the reminder, Chinese first: what is missing, by when


def at_local(day: date, when: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, when, tzinfo=tz)




def due_state(done: bool, deadline: datetime, now: datetime) -> DueState:
    if done:
        return "done"
    return "overdue" if now >= deadline else "missing"




def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)




def meal_zh(meal: str | None) -> str:
    """``午餐`` for a known meal, the configured name otherwise."""
    if meal is None:
        return ""
    return MEAL_NAMES_ZH.get(meal, meal)
