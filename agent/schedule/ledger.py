"""The daily ledger: one ``daily_ledger`` record per day, written once at day end.

Exactly once, across restarts: the ledger record itself is the run-once guard. The
check ("is there a ledger for this day?") reads committed records, and the write is a
single committed record, so a power cut either leaves no ledger (it is written on the
next start) or a complete one (it is never written again). A separate kv marker would
need its own transaction and could disagree with the record after a cut between the two.
Only the schedule engine writes ledgers, on its one thread, under its lock.

A ledger found for a day that has not ended on the current clock was written under a
clock set ahead: the engine lists its id as void (kv ``schedule:void_ledgers``), the
guard ignores it, and the ledger written at the real day end names it in ``replaces``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from agent.config.settings import Settings
from agent.core.duties import DueItem, at_local
from agent.core.reads import Reads
from agent.core.recorder import Recorded, Recorder
from agent.core.tasks import all_tasks
from agent.records.daily_ledger import DailyLedger, LedgerLine
from agent.records.envelope import Source
from agent.records.registry import PROVINCIAL_TYPES
from agent.store import Store

# Records about records: not counted as the day's work.
_NOT_COUNTED = ("alarm", "daily_ledger")
LEDGER_SOURCE = Source(device_id="schedule", kind="scheduler")


def day_end(config: Settings, day: date) -> datetime:
    return at_local(day, config.schedules.day_end, config.identity.tz)


VOID_KEY = "schedule:void_ledgers"
# A ledger is premature only if its day ends more than this after now: a clock slewed or
# stepped back by seconds right after day end must not void and rewrite a good ledger.
PREMATURE_MARGIN = timedelta(minutes=5)


def ledger_written(store: Reads, day: date) -> bool:
    """A ledger of ``day`` that is not void exists."""
    void = set(store.kv_get(VOID_KEY, []))
    return any(i not in void for i in store.ledger_ids(day))


def void_premature_ledgers(store: Store, config: Settings, now: datetime) -> list[str]:
    """List as void every ledger of a day that has not ended at ``now``; the ids newly voided."""
    today = now.astimezone(config.identity.tz).date()
    void: list[str] = list(store.kv_get(VOID_KEY, []))
    new = [i for i, day in store.ledgers_since(today)
           if i not in void and day_end(config, day) > now + PREMATURE_MARGIN]
    if new:
        store.kv_set(VOID_KEY, void + new)
    return new


def build_ledger(store: Reads, day: date, items: list[DueItem], end: datetime | None = None) -> DailyLedger:
    """The summary of ``day``: counts and verdicts per record type, duties, open alarms."""
    counts: dict[str, LedgerLine] = {t: LedgerLine(record_type=t, count=0) for t in PROVINCIAL_TYPES}
    for record_type, verdict, count in store.verdict_counts(day):
        if record_type in _NOT_COUNTED:
            continue
        line = counts.setdefault(record_type, LedgerLine(record_type=record_type, count=0))
        line.count += count
        if verdict == "pass":
            line.passed += count
        elif verdict == "fail":
            line.failed += count
        elif verdict == "warn":
            line.warned += count
    raised = store.alarms_raised_on(day)
    diners = store.diners_on(day)
    duties = [i for i in items if i.duty != "sample_discard"]
    tasks = all_tasks(store)
    waiting = [t for t in tasks if t.step != "verified"]
    verified_on = sum(1 for t in tasks if t.step == "verified" and t.steps[-1]["occurred_at"][:10] == day.isoformat())
    return DailyLedger(
        tasks_open=len(waiting), tasks_verified=verified_on,
        tasks_overdue=sum(1 for t in waiting if end is not None and t.overdue(end)),
        day=day, lines=list(counts.values()),
        open_alarms=[row["key"] for row in store.open_alarms()],
        still_due=[i.key for i in items if not i.is_done],
        duties_due=len(duties), duties_done=sum(1 for i in duties if i.is_done),
        alarms_raised=raised, diners=diners)


def write_ledger(recorder: Recorder, day: date, items: list[DueItem]) -> Recorded[DailyLedger] | None:
    """Write ``day``'s ledger unless it exists; None when it was already written."""
    if ledger_written(recorder.store, day):
        return None
    voided = recorder.store.ledger_ids(day)  # all void here: written before the day ended
    ledger = build_ledger(recorder.store, day, items, day_end(recorder.config, day))
    if voided:
        ledger = ledger.model_copy(update={"replaces": voided[-1]})
    # occurred_at is the day's end even when written late (after a power cut), so the
    # record belongs to its day in every listing.
    return recorder.record(ledger, occurred_at=day_end(recorder.config, day), source=LEDGER_SOURCE)
