"""Restarts across midnight and long outages: each day's ledger is written exactly once."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from agent.schedule.engine import LEDGER_CATCHUP_DAYS
from agent.schedule.run_days import DAYS_RAN_KEY
from tests.conftest import REPO
from tests.fixtures_schedule import DAY, Canteen, at, schedule_config


def ledgers(canteen: Canteen) -> list[dict]:
    return [r["data"] for r in canteen.store.iter_records(type_="daily_ledger")]


def test_restart_across_midnight_writes_yesterdays_ledger_once(tmp_path) -> None:
    canteen = Canteen(schedule_config(tmp_path), at("06:00"))
    try:
        canteen.check("S001", at("07:00"))
        canteen.tick(at("23:00"))  # power cut at 23:10, before day end (23:55)
        open_before = canteen.open_keys()
        next_day = DAY + timedelta(days=1)
        canteen.restart(at("00:30", next_day))
        report = canteen.tick()
        assert report.ledgers == [DAY.isoformat()]
        written = ledgers(canteen)
        assert len(written) == 1
        assert set(written[0]["open_alarms"]) == open_before  # captured before day-close clears
        # again, and again after another restart: never a second ledger
        assert canteen.tick(at("00:31", next_day)).ledgers == []
        canteen.restart(at("00:40", next_day))
        assert canteen.tick().ledgers == []
        assert len(ledgers(canteen)) == 1
        record = next(canteen.store.iter_records(type_="daily_ledger"))
        assert record["occurred_at"].startswith(f"{DAY}T23:55:00")  # belongs to its day
        assert record["recorded_at"].startswith(f"{next_day}T00:30:00")  # written late
    finally:
        canteen.stop()


def test_outage_days_get_no_ledger_run_days_get_theirs_once_bounded(tmp_path) -> None:
    canteen = Canteen(schedule_config(tmp_path), at("06:00"))
    try:
        canteen.tick()  # the engine's first day
        back = DAY + timedelta(days=3)
        canteen.restart(at("08:00", back))
        report = canteen.tick()
        assert report.ledgers == [DAY.isoformat()]  # the two days the box was off: no ledger
        assert canteen.tick().ledgers == []
        assert canteen.store.kv_get(DAYS_RAN_KEY) == [DAY.isoformat(), back.isoformat()]
        # run days whose ledgers are missing (say, a store that refused writes): at most
        # LEDGER_CATCHUP_DAYS back
        much_later = back + timedelta(days=30)
        canteen.store.kv_set(DAYS_RAN_KEY, [(back + timedelta(days=n)).isoformat() for n in range(31)])
        canteen.restart(at("08:00", much_later))
        report = canteen.tick()
        assert len(report.ledgers) == LEDGER_CATCHUP_DAYS
        assert report.ledgers[-1] == (much_later - timedelta(days=1)).isoformat()
    finally:
        canteen.stop()


def test_no_ledger_for_days_before_the_engine_first_ran(tmp_path) -> None:
    canteen = Canteen(schedule_config(tmp_path), at("06:00"))
    try:
        assert canteen.tick().ledgers == []
        assert ledgers(canteen) == []
    finally:
        canteen.stop()


KILLED_AT_DAY_END = """
import os, sys
from datetime import datetime
from zoneinfo import ZoneInfo
from agent.app import Agent
from agent.config_file.model import AgentConfig
from agent.core.timeutil import ManualClock
config = AgentConfig.model_validate_json(sys.argv[1])
clock = ManualClock(datetime.fromisoformat(sys.argv[2]))
agent = Agent(config, now=clock)
report = agent.schedule_engine.tick(clock())
print("ledgers", ",".join(report.ledgers), flush=True)
os._exit(9)  # no close, no flush: as a power cut right after the write
"""


def test_ledger_survives_a_kill_right_after_it_was_written(tmp_path) -> None:
    config = schedule_config(tmp_path)
    canteen = Canteen(config, at("06:00"))
    canteen.tick()
    canteen.stop()
    env_path = {"PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", KILLED_AT_DAY_END, config.model_dump_json(),
                          at("23:56").isoformat()], capture_output=True, text=True, timeout=120,
                         env={**env_path, "CANTEEN_CLOCK_SYNCED": "1"})
    assert "ledgers " + DAY.isoformat() in out.stdout, out.stderr[-2000:]
    canteen.start()
    try:
        assert canteen.tick(at("00:10", DAY + timedelta(days=1))).ledgers == []
        assert len(ledgers(canteen)) == 1
    finally:
        canteen.stop()
