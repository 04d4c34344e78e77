"""The apscheduler component: jobs at the deadlines in the agent's zone, a tick at
start (catch-up after a power cut), safety ticks, and a clean stop."""

from __future__ import annotations

import threading
import time
from datetime import time as dtime

from agent.schedule.scheduler import ScheduleComponent, deadline_times
from tests.fixtures_schedule import Canteen, at, schedule_config


def wait_until(predicate, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_deadline_times_cover_every_duty(tmp_path) -> None:
    config = schedule_config(tmp_path)
    times = deadline_times(config)
    assert times["morning-check"] == dtime(9, 30)
    assert times["lunch-end"] == dtime(13, 0)
    assert times["lunch-disinfection"] == dtime(15, 0)
    assert times["uv"] == dtime(21, 0)
    assert times["day-end"] == dtime(23, 55)
    assert times["day-change"] == dtime(0, 0, 5)


def test_component_ticks_at_start_and_periodically_then_stops(tmp_path) -> None:
    canteen = Canteen(schedule_config(tmp_path), at("09:40"))  # started after the 09:30 deadline
    component = ScheduleComponent(canteen.agent.schedule_engine, canteen.clock, tick_interval_s=0.2)
    stop = threading.Event()
    thread = threading.Thread(target=component.run, args=(stop,), daemon=True)
    thread.start()
    try:
        # the start tick raised what came due while the agent was off
        assert wait_until(lambda: "morning_check_missing|day=2026-11-23,staff_id=S001"
                          in canteen.open_keys())
        assert wait_until(lambda: component.scheduler is not None)
        jobs = {job.id: job for job in component.scheduler.get_jobs()}
        assert {"morning-check", "breakfast-end", "lunch-disinfection", "day-end", "safety-tick"} <= set(jobs)
        job = jobs["morning-check"]
        assert job.misfire_grace_time == 1800 and job.coalesce is True
        assert str(job.trigger.timezone) == "Asia/Shanghai"
        assert (job.next_run_time.hour, job.next_run_time.minute) == (9, 30)

        # safety ticks pick up a late check within their period
        canteen.check("S001", at("09:41"))
        canteen.clock.set(at("09:42"))
        assert wait_until(lambda: "morning_check_missing|day=2026-11-23,staff_id=S001"
                          not in canteen.open_keys())
        assert wait_until(lambda: component.ticks >= 3)
        assert component.failures == 0
    finally:
        stop.set()
        thread.join(10)
        canteen.stop()
    assert not thread.is_alive()
    assert component.scheduler is None


def test_a_failing_tick_is_logged_and_the_jobs_carry_on(tmp_path, caplog) -> None:
    canteen = Canteen(schedule_config(tmp_path), at("09:40"))
    engine = canteen.agent.schedule_engine
    calls = []

    def flaky(now):
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("store busy")
        return engine.tick(now)

    component = ScheduleComponent(engine, canteen.clock, tick_interval_s=0.2)
    component.engine = type("Flaky", (), {"tick": staticmethod(flaky), "config": engine.config})()
    stop = threading.Event()
    thread = threading.Thread(target=component.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: component.ticks >= 2)
        assert component.failures == 1
        assert "schedule tick failed" in caplog.text
    finally:
        stop.set()
        thread.join(10)
        canteen.stop()
