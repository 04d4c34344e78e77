"""What is due on a day, and what of it is done: the one computation behind reminders.

``what_is_due(store, config, now)`` compares the day's duties (config: meal windows,
deadlines, UV rooms; store: today's roster, menu overrides from meal_service) with
the records stored for that day. The reminder jobs raise an alarm for every item that
is ``overdue`` and clear it once ``done``; ``canteen-agent today`` prints the same
list. Both call this function, so the screen and the alarms can never disagree.

It only reads the store: ``gather_facts`` takes one snapshot, ``due_items`` is a pure
function of that snapshot, the config and ``now`` (tests drive it with any time).

Duties: a morning check per person on duty in the roster; per meal served that day
(``schedules.meals.*.weekdays``) and known (a menu dish for it, or a meal_service
registration) its samples, leader meal and tableware disinfection; a UV/ozone run per
``schedules.uv_rooms`` room; and batches of samples past their keep time. A day on which
no meal is served has no duties.

Item states:
- ``done``: the record is there (a failed record does not count: an underweight
  sample, a cut-short cycle or a too-short UV run must be redone);
- ``missing``: not recorded yet, deadline still ahead;
- ``overdue``: not recorded and the deadline has passed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from agent.config.model import AgentConfig
from agent.config.site import MealWindow
from agent.core.reads import Reads
from agent.core.recorder import alarm_key
from agent.schedule.discard import discard_key, discard_lookback_days, keep_ends, record_local_day

DueState = Literal["done", "missing", "overdue"]

# Record types whose presence on the day makes a duty done.
DAY_TYPES = ("staff_health_check", "food_sample", "tableware_disinfection", "premises_disinfection",
             "leader_meal", "meal_service")
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
    detail: str = ""  # "2/3 dishes", "cycle failed" ...
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
            return _parse(record["occurred_at"]) <= now

        return DayFacts(
            day=self.day, roster=self.roster,
            records={t: [r for r in rs if before(r)] for t, rs in self.records.items()},
            recent_samples=[r for r in self.recent_samples if before(r)], discarded=self.discarded)


# --- reading the store -------------------------------------------------------------------


def gather_facts(store: Reads, config: AgentConfig, day: date) -> DayFacts:
    records = {t: list(store.iter_records(type_=t, day=day.isoformat())) for t in DAY_TYPES}
    recent: list[dict[str, Any]] = []
    for back in range(discard_lookback_days(config), 0, -1):
        recent += store.iter_records(type_="food_sample", day=(day - timedelta(days=back)).isoformat())
    recent += records["food_sample"]
    discarded = {}
    for sample_day, meal in {(_record_day(r, config), r["data"]["meal"]) for r in recent}:
        confirmation = store.kv_get(discard_key(sample_day, meal))
        if confirmation is not None:
            discarded[(sample_day, meal)] = confirmation
    return DayFacts(day=day, roster=store.roster(), records=records, recent_samples=recent,
                    discarded=discarded)


def what_is_due(store: Reads, config: AgentConfig, now: datetime) -> list[DueItem]:
    """Every duty of ``now``'s local day with its state at ``now``."""
    day = now.astimezone(config.identity.tz).date()
    return due_items(gather_facts(store, config, day), config, now)


# --- the pure part -----------------------------------------------------------------------


def due_items(facts: DayFacts, config: AgentConfig, now: datetime) -> list[DueItem]:
    tz = config.identity.tz
    facts = facts.as_of(now)
    items: list[DueItem] = []
    meals = served_meals(config, facts.day)
    if meals:
        items += morning_checks(facts, config, now)
        for name, window in meals:
            if not meal_known(facts, config, name):
                continue
            items.append(samples_item(facts, config, name, window, now))
            items.append(leader_meal_item(facts, name, window, tz, now))
            items.append(disinfection_item(facts, config, name, window, now))
        items += uv_items(facts, config, now)
    items += discard_items(facts, config, now)
    return items


def served_meals(config: AgentConfig, day: date) -> list[tuple[str, MealWindow]]:
    """The meals served on ``day``, in order of their start."""
    meals = [(n, w) for n, w in config.schedules.meals.items() if day.isoweekday() in w.weekdays]
    return sorted(meals, key=lambda item: item[1].start)


def meal_known(facts: DayFacts, config: AgentConfig, meal: str) -> bool:
    """A meal's duties are due once it is known to be served: the menu has a dish for it,
    or the manager registered it that day. A box whose site data has not arrived yet
    (no menu, no roster) therefore raises nothing."""
    if any(not d.meals or meal in d.meals for d in config.site.menu):
        return True
    return any(r["data"]["meal"] == meal for r in facts.of("meal_service"))


def at_local(day: date, when: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, when, tzinfo=tz)


def _state(done: bool, deadline: datetime, now: datetime) -> DueState:
    if done:
        return "done"
    return "overdue" if now >= deadline else "missing"


def morning_checks(facts: DayFacts, config: AgentConfig, now: datetime) -> list[DueItem]:
    deadline = at_local(facts.day, config.schedules.morning_check_deadline, config.identity.tz)
    first_check: dict[str, datetime] = {}
    last_check: dict[str, dict[str, Any]] = {}  # a re-check decides fitness for duty
    for record in facts.of("staff_health_check"):
        staff_id = record["data"]["staff_id"]
        first_check.setdefault(staff_id, _parse(record["occurred_at"]))
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
                             _state(done_at is not None, deadline, now), done_at=done_at,
                             verdict=last.get("verdict"), detail=", ".join(last.get("findings") or [])))
    return items


def expected_dishes(facts: DayFacts, config: AgentConfig, meal: str) -> list[str]:
    """Dishes to sample: the meal_service registration if it names dishes, else the menu."""
    for record in reversed(facts.of("meal_service")):
        data = record["data"]
        if data["meal"] == meal and data.get("dishes"):
            return _unique(d.strip() for d in data["dishes"])
    return _unique(d.name.strip() for d in config.site.menu if not d.meals or meal in d.meals)


def samples_item(facts: DayFacts, config: AgentConfig, meal: str, window: MealWindow,
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
            good.setdefault(dish, _parse(data["sampled_at"]))
    expected = expected_dishes(facts, config, meal)
    if expected:
        missing = tuple(d for d in expected if d not in good)
        progress = (len(expected) - len(missing), len(expected))
        detail = f"{progress[0]}/{progress[1]} dishes"
        done_at = max((good[d] for d in expected if d in good), default=None)
    else:  # no menu known: at least one dish must be sampled
        missing = () if good else ("(any dish)",)
        progress = (len(good), max(1, len(good)))
        detail = f"{len(good)} dishes (no menu)"
        done_at = max(good.values(), default=None)
    if missing and expected:
        detail += ", to do: " + ", ".join(missing)
    underweight = sorted(d for d in failed if d in missing)
    if underweight:
        detail += " (underweight: " + ", ".join(underweight) + ")"
    return DueItem("samples", "samples_missing", {"meal": meal, "day": facts.day.isoformat()}, meal,
                   deadline, _state(not missing, deadline, now), meal=meal,
                   done_at=None if missing else done_at, detail=detail, missing=missing,
                   progress=progress)


def leader_meal_item(facts: DayFacts, meal: str, window: MealWindow, tz: ZoneInfo,
                     now: datetime) -> DueItem:
    deadline = at_local(facts.day, window.end, tz)
    records = [r for r in facts.of("leader_meal") if r["data"]["meal"] == meal]
    done_at = _parse(records[0]["occurred_at"]) if records else None
    detail = ", ".join(r["data"].get("name") or r["data"]["staff_id"] for r in records)
    return DueItem("leader_meal", "leader_meal_missing", {"meal": meal, "day": facts.day.isoformat()},
                   meal, deadline, _state(bool(records), deadline, now), meal=meal, done_at=done_at,
                   detail=detail)


def disinfection_item(facts: DayFacts, config: AgentConfig, meal: str, window: MealWindow,
                      now: datetime) -> DueItem:
    """A cycle counts for the meal it names; a cycle that names none (cabinets do not
    know about meals) counts for the last meal served that started before it, even if
    it ran after the deadline: late, but done."""
    tz = config.identity.tz
    deadline = at_local(facts.day, window.end, tz) + timedelta(minutes=window.disinfection_deadline_min)
    starts = [(at_local(facts.day, w.start, tz), name) for name, w in served_meals(config, facts.day)]
    good: list[datetime] = []
    failed = 0
    for record in facts.of("tableware_disinfection"):
        data = record["data"]
        named = data.get("meal") or _meal_before(starts, _parse(data["started_at"]))
        if named != meal:
            continue
        if record.get("verdict") == "fail":
            failed += 1
        else:
            good.append(_parse(data["ended_at"]))
    detail = f"{len(good)} cycle(s) passed" + (f", {failed} failed" if failed else "")
    if failed and good:
        detail = f"{failed} failed, redone: {len(good)} passed"
    elif failed:
        detail = f"{failed} cycle(s) failed, none passed: run it again"
    return DueItem("disinfection", "disinfection_missing", {"meal": meal, "day": facts.day.isoformat()},
                   meal, deadline, _state(bool(good), deadline, now), meal=meal,
                   done_at=min(good, default=None), detail=detail)


def uv_items(facts: DayFacts, config: AgentConfig, now: datetime) -> list[DueItem]:
    deadline = at_local(facts.day, config.schedules.uv_deadline, config.identity.tz)
    items = []
    for room in config.schedules.uv_rooms:
        runs = [r for r in facts.of("premises_disinfection")
                if (r["data"].get("room") or r["data"]["device_id"]) == room]
        good = [r for r in runs if r.get("verdict") != "fail"]
        detail = ", ".join(f"{r['data']['method']} {r['data']['minutes']:.0f} min" for r in runs)
        done_at = _parse(good[0]["data"]["ended_at"]) if good else None
        items.append(DueItem("uv_run", "uv_run_missing", {"room": room, "day": facts.day.isoformat()},
                             room, deadline, _state(bool(good), deadline, now), done_at=done_at,
                             detail=detail))
    return items


def discard_items(facts: DayFacts, config: AgentConfig, now: datetime) -> list[DueItem]:
    """Batches of samples (one meal of one day) whose keep time is over.

    Listed when due until confirmed discarded; a confirmed batch is listed (as done)
    only on the day it fell due, so ``today`` shows it once.
    """
    tz = config.identity.tz
    batches: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in facts.recent_samples:
        batches.setdefault((_record_day(record, config), record["data"]["meal"]), []).append(record)
    # the same keep time as the discard itself (agent.schedule.discard)
    keep_until = {group: keep_ends(records, config.rules.food_sample.keep_hours)
                  for group, records in batches.items()}
    items = []
    for (sample_day, meal), until in sorted(keep_until.items(), key=lambda kv: kv[1]):
        if until > now:
            continue
        confirmation = facts.discarded.get((sample_day, meal))
        if confirmation is not None and until.astimezone(tz).date() != facts.day:
            continue
        done_at = _parse(confirmation["at"]) if isinstance(confirmation, dict) and "at" in confirmation \
            else None
        items.append(DueItem("sample_discard", "sample_discard_due", {"meal": meal, "day": sample_day},
                             f"{meal} {sample_day}", until,
                             "done" if confirmation is not None else "overdue", meal=meal,
                             done_at=done_at, detail=f"kept until {until.astimezone(tz):%m-%d %H:%M}"))
    return items


# --- helpers ------------------------------------------------------------------------------

def _meal_before(starts: list[tuple[datetime, str]], when: datetime) -> str | None:
    """The meal with the latest start at or before ``when`` (``starts`` is in order)."""
    found = None
    for start, name in starts:
        if start <= when:
            found = name
    return found


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _record_day(record: dict[str, Any], config: AgentConfig) -> str:
    return record_local_day(record, config.identity.tz)


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(n for n in names if n))


def meal_label(meal: str) -> str:
    """``午餐 lunch`` for known meals, the configured name otherwise."""
    zh = MEAL_NAMES_ZH.get(meal)
    return f"{zh} {meal}" if zh else meal
