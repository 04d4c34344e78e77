"""The schedule engine: one idempotent evaluation, ``tick(now)``.

At ``now`` it
1. writes the ledger of every day whose end has passed and that has none yet, for the
   days the agent actually ran (``run_days``: on the clock as corrected, at most
   ``LEDGER_CATCHUP_DAYS`` back), never for a day it was off or a day that has not ended;
   a ledger of a day that has not ended (written under a clock set ahead) is void;
2. works out which alarms should be open (overdue duties from ``due.what_is_due``,
   expiry warnings from ``expiry.expiry_items``) and reconciles: raises the missing
   ones, clears the open ones that are no longer wanted (done, renewed, day closed).

Nothing depends on when or how often it runs: the scheduler calls it at every
deadline and once a minute, on start, and tests call it with any ``now``. Running it
twice changes nothing the second time. What survives a restart is in the store:
alarms (deduplicated by (kind, subject) in the store's alarms table), ledger records,
and kv keys (``schedule:days_ran``, ``schedule:void_ledgers``, ``schedule:last_tick``).

Clock steps: a tick compares the wall clock with the monotonic one. After a step the
days run are re-placed on the corrected clock (``run_days``) and reminders follow the
corrected ``now`` (the reconcile clears those wanted only by the wrong clock).

Missed deadlines (the box was off): the first tick after a start raises every duty
that is overdue and still missing, however long ago its deadline was, because the
manager still has to act on it. A reminder raised more than
``schedules.missed_job_grace_s`` after its deadline is marked ``late`` in its details
and in the local notification. A previous day's duties are not raised after the fact:
the ledger of that day lists them in ``still_due``.

The ledger is written before alarms are reconciled, so a day's open reminders appear
in its ledger before they are cleared as "day closed".
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from agent.core.duties import DueItem
from agent.core.recorder import Recorder
from agent.core.tasks import TaskDesk
from agent.core.timeutil import Monotonic
from agent.core.training import attendance
from agent.schedule import practice
from agent.schedule.due import due_items as compute_due_items
from agent.schedule.due import gather_facts, what_is_due
from agent.schedule.expiry import ExpiryItem, expiry_clear_message, expiry_items, expiry_warning
from agent.schedule.ledger import day_end, void_premature_ledgers, write_ledger
from agent.schedule.reminders import REMINDER_KINDS, AlarmWant, clear_message, reminder_for
from agent.schedule.run_days import RunDays
from agent.schedule.summary import write_month

log = logging.getLogger("agent.schedule")

OWN_KINDS = frozenset(REMINDER_KINDS) | {"expiry_warning"} | frozenset(practice.KINDS)
LEDGER_CATCHUP_DAYS = 7  # after a long outage, write at most this many missed ledgers
LAST_TICK_KEY = "schedule:last_tick"
# Expiry dates move by days: re-read them at most this often (they scan purchase
# records), and at once on a new day or a restart. A renewal clears within this.
EXPIRY_EVERY_S = 600

Notify = Callable[[str], None]


@dataclass
class TickReport:
    at: datetime
    raised: list[str] = field(default_factory=list)  # alarm keys
    cleared: list[str] = field(default_factory=list)
    ledgers: list[str] = field(default_factory=list)  # days written
    items: list[DueItem] = field(default_factory=list)


class ScheduleEngine:
    """Reminders, expiry warnings and ledgers from the store's state at ``now``."""

    def __init__(self, recorder: Recorder, notify: Notify | None = None, mono: Monotonic | None = None) -> None:
        self.recorder = recorder
        self.store = recorder.store
        self.config = recorder.config
        self.tz = self.config.identity.tz
        self.notify = notify
        self.run_days = RunDays(self.store, self.tz, mono or time.monotonic)
        self._lock = threading.Lock()  # apscheduler may fire two jobs at the same second
        self._expiry_cache: tuple[date, datetime, list[ExpiryItem]] | None = None
        self.tasks = TaskDesk(recorder)

    def tick(self, now: datetime) -> TickReport:
        with self._lock:
            report = TickReport(now)
            today = now.astimezone(self.tz).date()
            self._write_due_ledgers(now, today, report)
            if write_month(self.recorder, self.config, now) is not None:
                self._say(f"{today.replace(day=1) - timedelta(days=1):%Y-%m} 月度汇总已生成 / monthly scorecard written")
            report.items = what_is_due(self.store, self.config, now)
            self._reconcile(now, today, report)
            self.tasks.sweep(now)  # 整改单 for what the devices found
            for session in self.store.iter_records(type_="training_session", day=today.isoformat()):
                attendance(self.recorder, session)  # each attendee's staff_training, if a stop cut it short
            raised, cleared = self.tasks.sync_overdue(now)  # 整改单 past their deadline
            report.raised += raised
            report.cleared += cleared
            if raised:
                self._say(f"{len(raised)} 张整改单已逾期，请尽快整改 / {len(raised)} rectification task(s) overdue")
            self.store.kv_set(LAST_TICK_KEY, now.isoformat())
            if report.raised or report.cleared or report.ledgers:
                log.info("schedule tick at=%s raised=%d cleared=%d ledgers=%s", now.isoformat(),
                         len(report.raised), len(report.cleared), ",".join(report.ledgers) or "-")
            return report

    # --- ledgers -----------------------------------------------------------------------

    def _write_due_ledgers(self, now: datetime, today: date, report: TickReport) -> None:
        last_tick = self.store.kv_get(LAST_TICK_KEY)  # an older version's last run seeds the list
        self.run_days.observe(now, seed=datetime.fromisoformat(last_tick).astimezone(self.tz).date()
                              if last_tick else None)
        for ledger_id in void_premature_ledgers(self.store, self.config, now):
            log.warning("daily ledger void: written before its day ended id=%s", ledger_id)
        oldest = today - timedelta(days=LEDGER_CATCHUP_DAYS)
        for day in self.run_days.days():
            end = day_end(self.config, day)
            if oldest <= day <= today and now >= end:
                items = compute_due_items(gather_facts(self.store, self.config, day), self.config, end)
                saved = write_ledger(self.recorder, day, items)
                if saved is not None:
                    report.ledgers.append(day.isoformat())
                    log.info("daily ledger written day=%s id=%s late=%s", day, saved.id,
                             (now - end).total_seconds() > self.config.schedules.missed_job_grace_s)
                    done = sum(1 for i in items if i.is_done)
                    self._say(f"{day} 日终台账已生成：{done}/{len(items)} 项完成 / "
                              f"daily ledger for {day}: {done}/{len(items)} duties done")

    # --- alarms ------------------------------------------------------------------------

    def wanted_alarms(self, now: datetime, items: list[DueItem]) -> list[AlarmWant]:
        wants = [reminder_for(i) for i in items if i.state == "overdue"]
        wants += [expiry_warning(e) for e in self._expiry_items(now)]
        since = self.store.kv_get(practice.SINCE_KEY)
        if since is None:
            since = now.astimezone(self.tz).date().isoformat()
            self.store.kv_set(practice.SINCE_KEY, since)
        wants += practice.practice_wants(self.store, self.config, now, date.fromisoformat(since))
        return wants

    def _expiry_items(self, now: datetime) -> list[ExpiryItem]:
        today = now.astimezone(self.tz).date()
        cached = self._expiry_cache
        if cached is None or cached[0] != today or abs((now - cached[1]).total_seconds()) >= EXPIRY_EVERY_S:
            cached = (today, now, expiry_items(self.store, self.config, today))
            self._expiry_cache = cached
        return cached[2]

    def _reconcile(self, now: datetime, today: date, report: TickReport) -> None:
        wants = self.wanted_alarms(now, report.items)
        wanted_keys = {w.key for w in wants}
        last_tick = self.store.kv_get(LAST_TICK_KEY)
        open_rows = [row for row in self.store.open_alarms() if row["kind"] in OWN_KINDS]
        already_open = {row["key"] for row in open_rows}
        for want in wants:
            if want.key not in already_open:  # the store dedups too; this spares a write a minute
                self._raise(want, now, last_tick, report)
        items_by_key = {i.key: i for i in report.items}
        thresholds = {(w.subject["what"], w.subject["id"]): w.subject["threshold"]
                      for w in wants if w.kind == "expiry_warning"}
        for row in open_rows:
            if row["key"] in wanted_keys:
                continue
            subject = json.loads(row["subject"])
            if row["kind"] == "expiry_warning":
                message = expiry_clear_message(subject, thresholds)
            elif row["kind"] in practice.KINDS:
                message = practice.clear_message(row["kind"])
            else:
                message = clear_message(row["kind"], subject, items_by_key.get(row["key"]),
                                        today.isoformat())
            if self.recorder.clear_alarm(row["kind"], subject, message, occurred_at=now):
                report.cleared.append(row["key"])

    def _raise(self, want: AlarmWant, now: datetime, last_tick: str | None, report: TickReport) -> None:
        details = dict(want.details)
        late = False
        if want.deadline is not None:
            overdue_s = (now - want.deadline).total_seconds()
            details["overdue_s"] = round(overdue_s)
            # late: the deadline passed while no tick ran (agent off) longer than the grace
            missed = last_tick is None or datetime.fromisoformat(last_tick) < want.deadline
            late = missed and overdue_s > self.config.schedules.missed_job_grace_s
            if late:
                details["late"] = True
        saved = self.recorder.raise_alarm(want.kind, want.subject, want.message,
                                          severity=want.severity, details=details, occurred_at=now)
        if saved is None:
            return  # already open: raised once, never again while open
        report.raised.append(want.key)
        suffix = "（停机期间到期 / came due while the agent was off）" if late else ""
        self._say(want.message + suffix)

    def _say(self, text: str) -> None:
        if self.notify is None:
            return
        try:
            self.notify(text)
        except Exception:  # a broken speaker or screen must not stop reminders
            log.exception("schedule notify failed")
