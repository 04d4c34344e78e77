"""What is due on a day, and what of it is done: the one computation behind reminders.

``what_is_due(store, config, now)`` compares the day's duties (config: meal windows,
deadlines, UV rooms; store: today's roster, menu overrides from meal_service) with
the records stored for that day. The reminder jobs raise an alarm for every item that
is ``overdue`` and clear it once ``done``; ``canteen-agent today`` prints the same
list. Both call this function, so the screen and the alarms can never disagree.

It only reads the store: ``gather_facts`` takes one snapshot, ``due_items`` is a pure
function of that snapshot, the config and ``now`` (tests drive it with any time).

Duties: each station kind's (``agent/stations/<kind>/due.py``: a morning check per
person on duty in the roster; per meal served that day (``schedules.meals.*.weekdays``)
and known (a menu dish for it, or a meal_service registration) its samples and its
leader meal), then the tableware disinfection of each such meal; a UV/ozone run per
``schedules.uv_rooms`` room; and batches of samples past their keep time. A day on which
no meal is served has no duties.

Item states:
- ``done``: the record is there (a failed record does not count: an underweight
  sample, a cut-short cycle or a too-short UV run must be redone);
- ``missing``: not recorded yet, deadline still ahead;
- ``overdue``: not recorded and the deadline has passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from agent.config.settings import Settings
from agent.config.site import MealWindow
from agent.core.duties import DayFacts, DueItem, at_local, due_state, parse_time
from agent.core.reads import Reads
from agent.schedule.discard import discard_key, discard_lookback_days, keep_ends, record_local_day
from agent.stations.registry import DUE_RECORDS, STATION_KINDS
from agent.words.terms import DISINFECTION_METHODS, term
from agent.words.terms import meal as meal_words
from agent.words.terms import room as room_words

# Record types whose presence on the day makes a duty done: the station kinds' own, and
# those of the duties listed here (samples kept for a discard, cycles, UV runs, meals served).
DAY_TYPES = tuple(dict.fromkeys((*DUE_RECORDS, "food_sample", "tableware_disinfection",
                                 "premises_disinfection", "meal_service")))
RESTORATIONS = "rectification"  # DayFacts.of(RESTORATIONS): a manager put someone back on duty that day


# --- reading the store -------------------------------------------------------------------


def gather_facts(store: Reads, config: Settings, day: date) -> DayFacts:
    records = {t: list(store.iter_records(type_=t, day=day.isoformat())) for t in DAY_TYPES}
    records[RESTORATIONS] = store.fitness_restorations(day.isoformat())
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


def what_is_due(store: Reads, config: Settings, now: datetime) -> list[DueItem]:
    """Every duty of ``now``'s local day with its state at ``now``."""
    day = now.astimezone(config.identity.tz).date()
    return due_items(gather_facts(store, config, day), config, now)


# --- the pure part -----------------------------------------------------------------------


def due_items(facts: DayFacts, config: Settings, now: datetime) -> list[DueItem]:
    """The day's duties: each station kind's (``agent.stations.registry``), in the registry's
    order, then the cabinets' and UV runs'; sample discards on any day."""
    facts = facts.as_of(now)
    items: list[DueItem] = []
    meals = served_meals(config, facts.day)
    if meals:
        for kind in STATION_KINDS:
            if kind.day_duties is not None:
                items += kind.day_duties(facts, config, now)
        for name, window in meals:
            if not meal_known(facts, config, name):
                continue
            for kind in STATION_KINDS:
                if kind.meal_duties is not None:
                    items += kind.meal_duties(facts, config, name, window, now)
            items.append(disinfection_item(facts, config, name, window, now))
        items += uv_items(facts, config, now)
    items += discard_items(facts, config, now)
    return items


def served_meals(config: Settings, day: date) -> list[tuple[str, MealWindow]]:
    """The meals served on ``day``, in order of their start."""
    meals = [(n, w) for n, w in config.schedules.meals.items() if day.isoweekday() in w.weekdays]
    return sorted(meals, key=lambda item: item[1].start)


def meal_known(facts: DayFacts, config: Settings, meal: str) -> bool:
    """A meal's duties are due once it is known to be served: the menu has a dish for it,
    or the manager registered it that day. A box whose site data has not arrived yet
    (no menu, no roster) therefore raises nothing."""
    if any(not d.meals or meal in d.meals for d in config.site.menu):
        return True
    return any(r["data"]["meal"] == meal for r in facts.of("meal_service"))


@dataclass(frozen=True)
class Unfit:
    """A person a morning check found unfit that day, and what came of it."""

    outcome: Literal["off_duty", "restored"]
    findings: tuple[str, ...]  # of the first failing check (the fever, not the re-check)


def unfit_outcomes(facts: DayFacts) -> dict[str, Unfit]:
    """staff_id -> ``Unfit`` for everyone a check found unfit that day (as the facts stand):
    a passing re-check does not hide a fever; only a manager's rectification after the
    last failing check (``restores_fitness``) puts them back on duty."""
    checks: dict[str, list[dict[str, Any]]] = {}
    for record in facts.of("staff_health_check"):
        checks.setdefault(record["data"]["staff_id"], []).append(record)
    outcomes = {}
    for staff_id, own in checks.items():
        unfit = [c for c in own if c.get("verdict") == "fail" or not c["data"].get("fit_for_duty", True)]
        if not unfit:
            continue
        restored = any(r["data"]["subject"].get("staff_id") == staff_id and r["seq"] > unfit[-1]["seq"]
                       for r in facts.of(RESTORATIONS))
        first_failed = next((c for c in unfit if c.get("verdict") == "fail"), unfit[0])
        outcomes[staff_id] = Unfit("restored" if restored else "off_duty", tuple(first_failed.get("findings") or ()))
    return outcomes


def disinfection_item(facts: DayFacts, config: Settings, meal: str, window: MealWindow,
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
        named = data.get("meal") or _meal_before(starts, parse_time(data["started_at"]))
        if named != meal:
            continue
        if record.get("verdict") == "fail":
            failed += 1
        else:
            good.append(parse_time(data["ended_at"]))
    detail = f"合格 {len(good)} 次 passed: {len(good)}" if good else "尚未消毒 none yet"
    if failed and good:
        detail = f"不合格 {failed} 次，重做合格 {len(good)} 次 / {failed} failed, redone: {len(good)} passed"
    elif failed:
        detail = f"不合格 {failed} 次，尚无合格，请重做 / {failed} failed, none passed: run it again"
    return DueItem("disinfection", "disinfection_missing", {"meal": meal, "day": facts.day.isoformat()},
                   meal, deadline, due_state(bool(good), deadline, now), meal=meal,
                   done_at=min(good, default=None), detail=detail)


def uv_items(facts: DayFacts, config: Settings, now: datetime) -> list[DueItem]:
    deadline = at_local(facts.day, config.schedules.uv_deadline, config.identity.tz)
    items = []
    for room in config.schedules.uv_rooms:
        runs = [r for r in facts.of("premises_disinfection")
                if (r["data"].get("room") or r["data"]["device_id"]) == room]
        good = [r for r in runs if r.get("verdict") != "fail"]
        detail = "、".join(f"{term(DISINFECTION_METHODS, r['data']['method'])} {r['data']['minutes']:.0f} 分钟 min"
                           for r in runs)
        done_at = parse_time(good[0]["data"]["ended_at"]) if good else None
        items.append(DueItem("uv_run", "uv_run_missing", {"room": room, "day": facts.day.isoformat()},
                             str(room_words(room)), deadline, due_state(bool(good), deadline, now), done_at=done_at,
                             detail=detail))
    return items


def discard_items(facts: DayFacts, config: Settings, now: datetime) -> list[DueItem]:
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
        done_at = parse_time(confirmation["at"]) if isinstance(confirmation, dict) and "at" in confirmation \
            else None
        items.append(DueItem("sample_discard", "sample_discard_due", {"meal": meal, "day": sample_day},
                             f"{meal_label(meal)} {sample_day}", until,
                             "done" if confirmation is not None else "overdue", meal=meal,
                             done_at=done_at, detail=f"留样至 kept until {until.astimezone(tz):%m-%d %H:%M}"))
    return items


# --- helpers ------------------------------------------------------------------------------

def _meal_before(starts: list[tuple[datetime, str]], when: datetime) -> str | None:
    """The meal with the latest start at or before ``when`` (``starts`` is in order)."""
    found = None
    for start, name in starts:
        if start <= when:
            found = name
    return found


def _record_day(record: dict[str, Any], config: Settings) -> str:
    return record_local_day(record, config.identity.tz)


def meal_label(meal: str) -> str:
    """``午餐 lunch`` for known meals, the configured name otherwise."""
    return str(meal_words(meal))
