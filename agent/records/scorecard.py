"""汇总分析 ``scorecard``: a period's figures (day, week, month, term), computed from the records alone. Its data, its words and its rule.

The figures are a pure function of record envelopes (``compute``): the agent computes them
from its store, sends a month's as one ``scorecard`` record, and the platform recomputes
them from the records it was delivered (``simulator/platform``; a test compares the two).
What counts, for records whose local day (``occurred_at``'s date, or the meal's day) is
inside the period:

- ``morning_check_rate``: people checked per service day (a day with a meal served), over
  ``roster_size`` (the staff on duty, stated in the record) times the service days;
- ``leader_meal_rate``: meals served with a leader's meal (陪餐) over meals served;
- ``sample_compliance``: meals served whose every dish has a sample that passed (≥ the
  minimum weight; at least one sample when no dishes were named) over meals served;
- ``disinfection_pass_rate``: tableware disinfection runs that passed over all runs;
- ``traceability_rate`` (食材溯源率): issues from stock naming a receipt on record with
  its supplier, batch and supplier licence, its certificate not found unchecked, and no
  override, over all issues;
- ``expired_food_found``: discards for expiry and expired batches issued by override;
- ``cold_chain_minutes_out``: minutes between each cold-chain alarm raised in the
  period and its clear (or the period's end);
- ``alarms``: alarms raised by kind, ``alarm_close_minutes``: mean minutes from raise to
  clear of those cleared;
- ``rectifications``: rectification records; ``vision_violations`` and per day;
- ``rectification_tasks`` (整改单) opened in the period, and what each was at the period's
  end (or now, for a period not over): ``rectification_done_on_time`` (its latest ``done``
  step, not sent back since, at or before the deadline that step carries),
  ``rectification_done_late``, ``rectification_overdue`` (waiting for its owner past its
  deadline); ``rectification_on_time_rate`` is the first over the three (a task still
  open and not yet due is in none of them);
- ``complaints`` (投诉建议) received in the period, ``complaints_by_category``, and those
  ``complaints_accepted`` / ``complaints_declined`` by a ``complaint_response`` by then;
- ``satisfaction_mean``: the mean of every 1–5 answer (from the counts) of the latest
  ``survey_summary`` sent in the period, with its ``satisfaction_responses`` and
  ``satisfaction_survey_id``.

Steps, responses and summaries after the period's end (or now) are left out, so a past
period's figures never change. Acknowledging an alarm is local to the agent and never
sent, so no figure uses it: the platform could not recompute it.

A rate with nothing to count is ``None`` (no meals served: no leader-meal rate), never 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field

from agent.records.base import Fact, RecordData, fact, facts
from agent.words.terms import Term

Period = Literal["day", "week", "month", "term"]
PERIODS: dict[str, Term] = {"day": Term("日", "day"), "week": Term("周", "week"), "month": Term("月", "month"),
                            "term": Term("学期", "term")}
# the record types the figures are computed from (and the receipts an issue names)
SOURCE_TYPES = ("staff_health_check", "meal_service", "leader_meal", "food_sample", "tableware_disinfection",
                "stock_issue", "stock_discard", "alarm", "rectification", "vision_violation", "rectification_task",
                "public_complaint", "complaint_response", "survey_summary")
COLD_CHAIN = ("cold_chain_high", "cold_chain_low")


class Scorecard(RecordData):
    """汇总分析: one period's rates and counts, computed from the records."""

    record_type: ClassVar[str] = "scorecard"
    title: ClassVar[Term] = Term("汇总分析", "Scorecard")
    period: Period
    start: date
    end: date = Field(description="the period's last day, inclusive")
    roster_size: int = Field(ge=0, description="staff on duty: the morning checks expected per service day")
    service_days: int = Field(ge=0)
    meals_served: int = Field(ge=0)
    morning_checks: int = Field(ge=0, description="people checked on service days (one per person and day)")
    morning_check_rate: float | None = None
    leader_meals: int = Field(ge=0, description="meals served with a leader's meal")
    leader_meal_rate: float | None = None
    sampled_meals: int = Field(ge=0, description="meals served with every dish sampled and passing")
    sample_compliance: float | None = None
    disinfection_runs: int = Field(ge=0)
    disinfection_passed: int = Field(ge=0)
    disinfection_pass_rate: float | None = None
    issues: int = Field(ge=0, description="issues from stock (出库)")
    issues_traceable: int = Field(ge=0)
    traceability_rate: float | None = None
    expired_food_found: int = Field(ge=0)
    cold_chain_minutes_out: float = Field(ge=0)
    alarms: dict[str, int] = Field(default_factory=dict, description="alarms raised, by kind")
    alarm_close_minutes: float | None = Field(None, description="mean minutes from raise to clear")
    rectifications: int = Field(ge=0)
    vision_violations: int = Field(ge=0)
    vision_violations_per_day: float = Field(ge=0)
    # added after the first scorecards: absent (null) in those an older agent sent
    rectification_tasks: int | None = Field(None, ge=0, description="rectification tasks (整改单) opened in the period")
    rectification_done_on_time: int | None = Field(None, ge=0, description="of those, done by their deadline")
    rectification_done_late: int | None = Field(None, ge=0, description="of those, done after their deadline")
    rectification_overdue: int | None = Field(None, ge=0, description="of those, still open past their deadline")
    rectification_on_time_rate: float | None = None
    complaints: int | None = Field(None, ge=0, description="complaints and suggestions (投诉建议) received")
    complaints_by_category: dict[str, int] | None = None
    complaints_accepted: int | None = Field(None, ge=0)
    complaints_declined: int | None = Field(None, ge=0)
    satisfaction_mean: float | None = Field(None, description="the latest survey's mean answer, 1 to 5")
    satisfaction_responses: int | None = Field(None, ge=0)
    satisfaction_survey_id: str | None = None

    def brief(self) -> list[Fact]:
        def pct(value: float | None) -> str:
            return "-" if value is None else f"{value * 100:.1f}%"
        return facts(fact("期间", "period", f"{PERIODS[self.period]} {self.start} – {self.end}"),
                      fact("晨检率", "morning checks", pct(self.morning_check_rate)),
                      fact("陪餐率", "leader meals", pct(self.leader_meal_rate)),
                      fact("留样合格率", "samples", pct(self.sample_compliance)),
                      fact("食材溯源率", "traceability", pct(self.traceability_rate)),
                      fact("整改按期率", "rectification on time", pct(self.rectification_on_time_rate)
                           if self.rectification_tasks else None),
                      fact("满意度", "satisfaction", None if self.satisfaction_mean is None
                           else f"{self.satisfaction_mean:.2f} / 5"))


def period_of(kind: Period, day: date) -> tuple[date, date]:
    """The period of this kind holding ``day``: (first day, last day). Weeks start on Monday;
    terms run 1 September – 31 January and 1 February – 31 August."""
    if kind == "day":
        return day, day
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if kind == "month":
        start = day.replace(day=1)
        return start, (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    if day.month >= 9:
        return date(day.year, 9, 1), date(day.year + 1, 1, 31)
    if day.month == 1:
        return date(day.year - 1, 9, 1), date(day.year, 1, 31)
    return date(day.year, 2, 1), date(day.year, 8, 31)


def _day(record: dict[str, Any]) -> date:
    data = record["data"]
    if record["type"] in ("meal_service", "stock_issue") and data.get("served_on"):
        return date.fromisoformat(data["served_on"])
    return date.fromisoformat(record["occurred_at"][:10])


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(min(1.0, part / whole), 4)


def _traceable(issue: dict[str, Any], receipts: dict[str, dict[str, Any]]) -> bool:
    data = issue["data"]
    receipt = receipts.get(data.get("receipt_id") or "")
    if receipt is None or data.get("override"):
        return False
    r = receipt["data"]
    return bool(r.get("supplier") and r.get("batch") and r.get("supplier_licence_expires_on")
                and r.get("certificate_checked") is not False)


def _at(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["occurred_at"])


def _tasks(steps: list[dict[str, Any]], start: date, end: date, as_of: datetime) -> dict[str, Any]:
    """The rectification figures of the tasks opened from ``start`` to ``end``, as they stood at ``as_of``."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for step in steps:
        by_task.setdefault(step["data"]["task_id"], []).append(step)
    on_time = late = overdue = opened = 0
    for task in by_task.values():
        first = task[0]
        if first["data"]["step"] != "opened" or not start <= _day(first) <= end:
            continue
        opened += 1
        known = [s for s in task if _at(s) <= as_of]
        latest = known[-1]["data"] if known else first["data"]
        if latest["step"] in ("done", "verified"):
            done = next((s for s in reversed(known) if s["data"]["step"] == "done"), known[-1])
            if _at(done) <= datetime.fromisoformat(done["data"]["deadline"]):
                on_time += 1
            else:
                late += 1
        elif datetime.fromisoformat(latest["deadline"]) < as_of:
            overdue += 1
    return {"rectification_tasks": opened, "rectification_done_on_time": on_time, "rectification_done_late": late,
            "rectification_overdue": overdue, "rectification_on_time_rate": _rate(on_time, on_time + late + overdue)}


def _public(complaints: list[dict[str, Any]], responses: list[dict[str, Any]], surveys: list[dict[str, Any]],
            as_of: datetime) -> dict[str, Any]:
    """The complaints received, their decisions by ``as_of``, and the latest survey's mean answer."""
    received = {r["id"] for r in complaints}
    decided: dict[str, str] = {}
    for r in responses:
        data = r["data"]
        if data["complaint_id"] in received and data["decision"] != "replied" and _at(r) <= as_of:
            decided.setdefault(data["complaint_id"], data["decision"])
    mean = answers = None
    latest = surveys[-1]["data"] if surveys else None
    if latest is not None:
        counts = [q.get("counts") or [] for q in latest["questions"] if q["kind"] == "scale"]
        answers = sum(sum(c) for c in counts)
        mean = round(sum(n * (i + 1) for c in counts for i, n in enumerate(c)) / answers, 2) if answers else None
    decisions = Counter(decided.values())
    return {"complaints": len(complaints),
            "complaints_by_category": dict(sorted(Counter(r["data"]["category"] for r in complaints).items())),
            "complaints_accepted": decisions["accepted"], "complaints_declined": decisions["declined"],
            "satisfaction_mean": mean, "satisfaction_responses": None if latest is None else latest["responses"],
            "satisfaction_survey_id": None if latest is None else latest["survey_id"]}


def compute(records: Iterable[dict[str, Any]], receipts: dict[str, dict[str, Any]], period: Period, start: date,
            end: date, roster_size: int, tz: Any, now: datetime | None = None) -> Scorecard:
    """The period's figures from ``records`` (envelopes of ``SOURCE_TYPES``, any days: those
    outside the period are left out) and ``receipts`` (id -> ``ingredient_purchase``
    envelope, for the issues to name). ``now``: for a period not over, what tasks and
    complaints are is taken at ``now`` rather than at the period's end."""
    inside: dict[str, list[dict[str, Any]]] = {t: [] for t in SOURCE_TYPES}
    later: dict[str, list[dict[str, Any]]] = {"rectification_task": [], "complaint_response": []}
    for record in sorted(records, key=lambda r: r.get("seq", 0)):
        if record["type"] in later:  # a task's later steps and a complaint's answer may come after the period
            later[record["type"]].append(record)
        elif record["type"] in inside and start <= _day(record) <= end:
            inside[record["type"]].append(record)
    served: dict[tuple[str, str], dict[str, Any]] = {}
    for r in inside["meal_service"]:  # the latest registration of each meal counts
        served[(r["data"]["served_on"], r["data"]["meal"])] = r["data"]
    service_days = {day for day, _ in served}
    checked = {(_day(r).isoformat(), r["data"]["staff_id"]) for r in inside["staff_health_check"]}
    checks = sum(1 for day, _ in checked if day in service_days)
    led = {(_day(r).isoformat(), r["data"]["meal"]) for r in inside["leader_meal"]}
    samples: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in inside["food_sample"]:
        samples.setdefault((_day(r).isoformat(), r["data"]["meal"]), []).append(r)
    sampled = 0
    for key, meal in served.items():
        taken = samples.get(key, [])
        passed = {r["data"]["dish"] for r in taken if r.get("verdict") != "fail"}
        dishes = set(meal.get("dishes") or [])
        if (dishes and dishes <= passed) or (not dishes and taken and len(passed) == len({r["data"]["dish"] for r in taken})):
            sampled += 1
    runs = inside["tableware_disinfection"]
    passed_runs = sum(1 for r in runs if r.get("verdict") == "pass")
    issues = inside["stock_issue"]
    traceable = sum(1 for r in issues if _traceable(r, receipts))
    expired = (sum(1 for r in inside["stock_discard"] if r["data"]["reason"] == "expired")
               + sum(1 for r in issues if (r["data"].get("override") or {}).get("of") == "expired"))
    period_end = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    as_of = period_end if now is None else min(now, period_end)
    raised = [r for r in inside["alarm"] if r["data"]["state"] == "raised"]
    clears = {r["data"].get("raised_id"): r for r in inside["alarm"] if r["data"]["state"] == "cleared"}
    cold, close = 0.0, []
    for r in raised:
        at = datetime.fromisoformat(r["occurred_at"])
        clear = clears.get(r["id"])
        until = datetime.fromisoformat(clear["occurred_at"]) if clear else period_end
        if r["data"]["kind"] in COLD_CHAIN:
            cold += max(0.0, (min(until, period_end) - at).total_seconds() / 60)
        if clear:
            close.append((until - at).total_seconds() / 60)
    days = (end - start).days + 1
    violations = len(inside["vision_violation"])
    return Scorecard(
        period=period, start=start, end=end, roster_size=roster_size, service_days=len(service_days),
        meals_served=len(served), morning_checks=checks, morning_check_rate=_rate(checks, roster_size * len(service_days)),
        leader_meals=sum(1 for key in served if key in led), leader_meal_rate=_rate(sum(1 for k in served if k in led), len(served)),
        sampled_meals=sampled, sample_compliance=_rate(sampled, len(served)), disinfection_runs=len(runs),
        disinfection_passed=passed_runs, disinfection_pass_rate=_rate(passed_runs, len(runs)), issues=len(issues),
        issues_traceable=traceable, traceability_rate=_rate(traceable, len(issues)), expired_food_found=expired,
        cold_chain_minutes_out=round(cold, 1), alarms=dict(sorted(Counter(r["data"]["kind"] for r in raised).items())),
        alarm_close_minutes=round(sum(close) / len(close), 1) if close else None,
        rectifications=len(inside["rectification"]), vision_violations=violations,
        vision_violations_per_day=round(violations / days, 3),
        **_tasks(later["rectification_task"], start, end, as_of),
        **_public(inside["public_complaint"], later["complaint_response"], inside["survey_summary"], as_of))
