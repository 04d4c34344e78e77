"""The clock's trust: records marked while unsynchronised, an alarm, and the step measured at sync."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from agent.config_file.model import AgentConfig
from agent.core.recorder import ClockMonitor, Recorder
from agent.core.timeutil import ManualClock, clock_synced, kernel_clock_synced, rtc_set_system_clock
from agent.ops.clock_watch import ALARM, ClockWatch
from agent.records.meal_service import MealService
from agent.store import Store
from tests.conftest import TZ

BOOT = datetime(2026, 11, 30, 6, 0, tzinfo=TZ)  # what the box believes after a boot without RTC


class Ntp:
    """What the kernel says: unsynchronised until NTP reaches a server."""

    def __init__(self) -> None:
        self.synced = False

    def __call__(self) -> tuple[bool, str]:
        return (True, "ntp") if self.synced else (False, "none")


@pytest.fixture
def site(config: AgentConfig) -> Iterator[tuple[Recorder, ManualClock, Ntp, Store]]:
    clock, ntp = ManualClock(BOOT), Ntp()
    store = Store(config.store.path, config.store.media_dir, durability="process_crash")
    yield Recorder(config, store, clock, ClockMonitor(ntp, every_s=0)), clock, ntp, store
    store.close()


def _inspection(recorder: Recorder) -> dict:
    saved = recorder.record(MealService(meal="lunch", served_on=BOOT.date(), diners=120))
    [record] = [r for r in recorder.store.iter_records(type_="meal_service") if r["id"] == saved.id]
    return record


def test_unsynced_records_are_marked_alarmed_and_the_step_measured_at_sync(site) -> None:
    recorder, clock, ntp, store = site
    watch = ClockWatch(recorder, clock, clock.monotonic)
    watch.once()
    before = _inspection(recorder)
    assert before["clock"] == {"synced": False, "source": "none"}
    [raised] = [a for a in store.iter_records(type_="alarm") if a["data"]["kind"] == ALARM]
    assert raised["data"]["state"] == "raised"
    clock.advance(600)
    watch.once()  # still unsynced: one alarm, not one a minute
    assert len([a for a in store.iter_records(type_="alarm")]) == 1

    clock.step(90.0)  # NTP reaches a server and steps the clock 90 s ahead
    ntp.synced = True
    watch.once()
    [_, cleared] = [a for a in store.iter_records(type_="alarm") if a["data"]["kind"] == ALARM]
    details = cleared["data"]["details"]
    assert cleared["data"]["state"] == "cleared" and details["step_s"] == 90.0
    assert datetime.fromisoformat(details["unsynced_from"]) <= datetime.fromisoformat(before["recorded_at"])
    assert datetime.fromisoformat(details["unsynced_until"]) == BOOT.replace(minute=10)
    assert _inspection(recorder)["clock"] == {"synced": True, "source": "ntp"}
    watch.once()
    assert len(list(store.iter_records(type_="alarm"))) == 2  # cleared once


def test_a_synced_clock_raises_nothing(site) -> None:
    recorder, clock, ntp, store = site
    ntp.synced = True
    watch = ClockWatch(recorder, clock, clock.monotonic)
    watch.once()
    clock.advance(60)
    watch.once()
    assert list(store.iter_records(type_="alarm")) == []


def test_probe_follows_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CANTEEN_CLOCK_SYNCED", raising=False)
    kernel = kernel_clock_synced()
    if kernel is None:
        pytest.skip("adjtimex is not available here")
    synced, source = clock_synced()
    if kernel:
        assert (synced, source) == (True, "ntp")
    else:
        assert (synced, source) == ((True, "rtc") if rtc_set_system_clock() else (False, "none"))


def test_declared_clock_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CANTEEN_CLOCK_SYNCED", "0")
    assert clock_synced() == (False, "declared")
