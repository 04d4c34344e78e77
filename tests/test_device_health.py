"""One offline watch for serial devices, Modbus devices and cameras, timed on the monotonic clock.

A Pi has no RTC: NTP steps its clock after boot. How long a device has been down must
not follow those steps (issue 13 item 3): an unplugged scale after a -1 h step is still
offline after its 10 s grace, not after 3,610 s; a +1 h step raises nothing early.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from agent.core.recorder import ClockMonitor, Recorder
from agent.core.timeutil import ManualClock
from agent.store import Store
from agent.workflows.device_health import (
    DeviceHealthWatch,
    camera_policy,
    modbus_policy,
    serial_policy,
)
from drivers.readings import DeviceHealth, DeviceState
from tests.conftest import TZ, make_config

START = datetime(2026, 11, 30, 6, 5, tzinfo=TZ)
HOUR = 3600


class Rig:
    def __init__(self, tmp_path: Path) -> None:
        config = make_config(tmp_path)
        self.clock = ManualClock(START)
        self.store = Store(config.store.path, config.store.media_dir, durability="process_crash")
        recorder = Recorder(config, self.store, self.clock, ClockMonitor(lambda: (True, "t")))
        self.watch = DeviceHealthWatch(recorder, monotonic=self.clock.monotonic)
        self.watch.watch(["scale-1"], serial_policy(disconnect_grace_s=10))
        self.watch.watch(["fridge-1"], modbus_policy(silent_minutes=5))
        self.watch.watch(["cam1"], camera_policy())

    def health(self, device_id: str, state: DeviceState, kind: str = "scale") -> None:
        self.watch.on_health(DeviceHealth(device_id=device_id, kind=kind, state=state, at=self.clock(),
                                          detail="test"))

    def tick_after(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.watch.tick(self.clock())

    def open_alarms(self) -> list[tuple[str, dict[str, str]]]:
        return [(a["kind"], json.loads(a["subject"])) for a in self.store.open_alarms()]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    rig = Rig(tmp_path)
    yield rig
    rig.store.close()


def test_unplugged_serial_device_offline_after_its_grace_despite_a_clock_step_back(rig: Rig) -> None:
    rig.health("scale-1", DeviceState.DISCONNECTED)
    rig.clock.step(-HOUR)  # NTP corrects a clock that ran an hour ahead
    rig.tick_after(9)
    assert rig.open_alarms() == []
    rig.tick_after(2)  # 11 s after the cable was pulled
    assert rig.open_alarms() == [("device_offline", {"device_id": "scale-1"})]
    rig.health("scale-1", DeviceState.OK)
    assert rig.open_alarms() == []


def test_a_clock_step_forward_raises_nothing_early(rig: Rig) -> None:
    rig.health("scale-1", DeviceState.DISCONNECTED)
    rig.health("fridge-1", DeviceState.SILENT, kind="modbus")
    rig.clock.step(HOUR)
    rig.tick_after(1)
    assert rig.open_alarms() == []
    rig.health("scale-1", DeviceState.OK)  # replugged within its grace
    rig.tick_after(60)
    assert rig.open_alarms() == []


def test_silent_modbus_probe_offline_after_probe_silent_minutes_despite_a_clock_step_back(rig: Rig) -> None:
    rig.health("fridge-1", DeviceState.SILENT, kind="modbus")
    rig.clock.step(-HOUR)
    rig.tick_after(4 * 60)
    assert rig.open_alarms() == []
    rig.tick_after(61)
    assert rig.open_alarms() == [("device_offline", {"device_id": "fridge-1"})]
    [row] = rig.store.open_alarms()
    assert "down 5 min" in row["message"]


def test_camera_silence_raises_camera_offline_at_once_and_clears(rig: Rig) -> None:
    rig.health("cam1", DeviceState.DISCONNECTED, kind="camera")  # reconnecting: not yet silent for long
    rig.tick_after(HOUR)
    assert rig.open_alarms() == []
    rig.health("cam1", DeviceState.SILENT, kind="camera")  # the worker waited silent_after_s
    assert rig.open_alarms() == [("camera_offline", {"camera_id": "cam1"})]
    rig.health("cam1", DeviceState.OK, kind="camera")
    assert rig.open_alarms() == []


def test_devices_not_watched_are_ignored(rig: Rig) -> None:
    rig.health("someone-else", DeviceState.SILENT)
    rig.tick_after(HOUR)
    assert rig.open_alarms() == []
