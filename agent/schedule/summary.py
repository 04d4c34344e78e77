"""汇总分析: the scorecard of a day, week, month or term from the store, and the monthly one
sent to the platform.

The figures are ``agent.records.scorecard.compute`` over the period's records (read a week
either side, for meals registered or issued late) and the receipts their issues name;
the roster's size (staff on duty) is the one figure not in the records, and the record
states it. ``write_month`` sends a month's scorecard once the month's last day has ended:
the record itself is the run-once guard, as for the daily ledger.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from agent.config.settings import Settings
from agent.core.reads import Reads
from agent.core.recorder import Recorded, Recorder
from agent.records.envelope import Source
from agent.records.scorecard import SOURCE_TYPES, Period, Scorecard, compute, period_of
from agent.schedule.ledger import day_end

log = logging.getLogger("agent.schedule.summary")
SUMMARY_SOURCE = Source(device_id="schedule", kind="scheduler")
MARGIN = timedelta(days=7)


@dataclass(frozen=True)
class Summary:
    card: Scorecard
    days: list[Scorecard]  # one per day of the period, for the charts


def roster_size(reads: Reads) -> int:
    return sum(1 for person in reads.roster() if person.get("on_duty", 1))


def _inputs(reads: Reads, start: date, end: date) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    records = reads.records_between(start - MARGIN, end + MARGIN, SOURCE_TYPES)
    receipts: dict[str, dict[str, Any]] = {}
    for r in records:
        receipt_id = r["data"].get("receipt_id") if r["type"] == "stock_issue" else None
        if receipt_id and receipt_id not in receipts:
            found = reads.get_record(receipt_id)
            if found is not None:
                receipts[receipt_id] = found
    return records, receipts


def scorecard(reads: Reads, config: Settings, period: Period, day: date, *, with_days: bool = False,
              now: datetime | None = None) -> Summary:
    """The scorecard of the ``period`` holding ``day`` (and each of its days, for charts);
    with ``now``, a period not over shows its tasks and complaints as they are now."""
    start, end = period_of(period, day)
    records, receipts = _inputs(reads, start, end)
    size = roster_size(reads)
    tz = config.identity.tz
    card = compute(records, receipts, period, start, end, size, tz, now)
    days = []
    if with_days:
        for n in range((end - start).days + 1):
            one = start + timedelta(days=n)
            days.append(compute(records, receipts, "day", one, one, size, tz, now))
    return Summary(card, days)


def write_month(recorder: Recorder, config: Settings, now: datetime) -> Recorded[Scorecard] | None:
    """The previous month's scorecard, once its last day has ended and none was sent; None
    when already sent, or when nothing was recorded that month."""
    reads = recorder.reads
    today = now.astimezone(config.identity.tz).date()
    start, end = period_of("month", today.replace(day=1) - timedelta(days=1))
    if now < day_end(config, end) or reads.scorecard_written("month", start):
        return None
    if not reads.records_between(start, end, ("meal_service",)):
        return None
    card = scorecard(reads, config, "month", start).card
    saved = recorder.record(card, occurred_at=now, source=SUMMARY_SOURCE)
    log.info("monthly scorecard written month=%s id=%s", start.isoformat()[:7], saved.id)
    return saved


# --- for the CSV export ------------------------------------------------------------------------------------

CSV_COLUMNS = ("start", "end", "service_days", "meals_served", "morning_check_rate", "leader_meal_rate",
               "sample_compliance", "disinfection_pass_rate", "traceability_rate", "expired_food_found",
               "cold_chain_minutes_out", "alarms_raised", "alarm_close_minutes", "rectifications", "vision_violations",
               # added with the tasks and the social end: new columns go last
               "rectification_tasks", "rectification_done_on_time", "rectification_done_late", "rectification_overdue",
               "rectification_on_time_rate", "complaints", "complaints_accepted", "complaints_declined",
               "satisfaction_mean", "satisfaction_responses")


def csv_row(card: Scorecard) -> list[str]:
    values: dict[str, Any] = card.model_dump()
    values["alarms_raised"] = sum(card.alarms.values())
    return ["" if values[c] is None else str(values[c]) for c in CSV_COLUMNS]
