"""The schedule component: apscheduler triggers ``ScheduleEngine.tick`` at the deadlines.

apscheduler only decides *when* to evaluate; *what* to raise, clear or write is the
engine's idempotent ``tick(now)``, so the jobs hold no state of their own and are
rebuilt from the config at every start (an in-memory job store is enough: what the
jobs did is in the store). Jobs, in the agent's time zone:

- a cron job at every deadline of the day (morning checks, each meal's sample and
  disinfection deadlines and end, UV, day end) and just after midnight (day change);
- a safety tick every ``tick_interval_s`` (clears "done" reminders within a minute and
  covers anything the cron jobs could miss, e.g. a clock step);
- one tick at start, which catches up whatever came due while the agent was off.

``misfire_grace_time`` is ``schedules.missed_job_grace_s`` with ``coalesce``: a cron run
delayed (busy box, suspended process) still happens once. Runs missed while the process
was not running are covered by the start tick; see ``agent.schedule.engine``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, time, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from agent.config.settings import Settings
from agent.schedule.engine import ScheduleEngine

log = logging.getLogger("agent.schedule")

DAY_CHANGE = time(0, 0, 5)  # a tick just after midnight closes the previous day's reminders


def deadline_times(config: Settings) -> dict[str, time]:
    """job id -> time of day at which some duty falls due."""
    s = config.schedules
    times = {"morning-check": s.morning_check_deadline, "uv": s.uv_deadline, "day-end": s.day_end,
             "day-change": DAY_CHANGE}
    for name, meal in s.meals.items():
        times[f"{name}-end"] = meal.end
        if meal.sample_deadline is not None:
            times[f"{name}-samples"] = meal.sample_deadline
        after = datetime.combine(datetime.min.date(), meal.end) + timedelta(
            minutes=meal.disinfection_deadline_min)
        times[f"{name}-disinfection"] = after.time()
    return times


class ScheduleComponent:
    """Runs a BackgroundScheduler until ``stop`` is set."""

    name = "schedule"

    def __init__(self, engine: ScheduleEngine, now: Callable[[], datetime],
                 tick_interval_s: float = 60.0) -> None:
        self.engine = engine
        self.config = engine.config
        self.now = now
        self.tick_interval_s = tick_interval_s
        self.ticks = 0
        self.failures = 0
        self.scheduler: BackgroundScheduler | None = None

    def run(self, stop: threading.Event) -> None:
        tz = self.config.identity.tz
        grace = max(1, self.config.schedules.missed_job_grace_s)  # apscheduler: None would mean unbounded
        scheduler = BackgroundScheduler(
            timezone=tz, job_defaults={"misfire_grace_time": grace, "coalesce": True, "max_instances": 1})
        for job_id, at in deadline_times(self.config).items():
            scheduler.add_job(self.tick, CronTrigger(hour=at.hour, minute=at.minute, second=at.second,
                                                     timezone=tz), id=job_id, name=job_id)
        scheduler.add_job(self.tick, IntervalTrigger(seconds=self.tick_interval_s, timezone=tz),
                          id="safety-tick", name="safety-tick")
        self.tick()  # catch up at once: deadlines may have passed while we were off
        scheduler.start()
        self.scheduler = scheduler
        log.info("schedule started jobs=%d tz=%s", len(scheduler.get_jobs()), tz.key)
        try:
            stop.wait()
        finally:
            scheduler.shutdown(wait=True)
            self.scheduler = None

    def tick(self) -> None:
        """One evaluation at the agent's ``now``; errors are logged, the jobs carry on."""
        try:
            self.engine.tick(self.now())
            self.ticks += 1
        except Exception:
            self.failures += 1
            log.exception("schedule tick failed")
