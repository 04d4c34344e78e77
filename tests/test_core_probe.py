"""Food core-temperature probes (drivers/core_probe.py): the worked example of docs/ARCHITECTURE.md."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from drivers.core_probe import CoreProbeConfig, CoreProbeParser
from drivers.readings import CoreTemperature, DeviceHealth, DeviceState, Reading
from drivers.serial_devices import open_driver
from simulator.devices.serial_devices import LineSerialDevice
from tests.conftest import make_config

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize(("line", "celsius"), [
    (b"72.4\r\n", 72.4),
    (b"+72.4C\r\n", 72.4),
    (b"T=72.4 C\r\n", 72.4),
    (b"core: 65.0\xc2\xb0C\r\n", 65.0),
    (b"-18.5\r\n", -18.5),  # a frozen delivery probed at receiving
    (b"100\n", 100.0),
])
def test_probe_lines(line: bytes, celsius: float) -> None:
    assert CoreProbeParser().feed(line) == [celsius]


def test_garbage_and_out_of_range_lines_are_bad_frames_never_readings() -> None:
    parser = CoreProbeParser()
    assert parser.feed(b"ERR\r\n999.9\r\n-60\r\n72.4.1\r\nHOLD\r\n61.2\r\n") == [61.2]
    assert parser.bad_frames == 5


def test_the_agent_config_accepts_a_core_probe(tmp_path: Path) -> None:
    [probe] = make_config(tmp_path, devices=[{"id": "probe-1", "kind": "core_probe", "port": "/dev/ttyUSB3"}]).devices
    assert isinstance(probe, CoreProbeConfig)
    assert probe.baudrate == 9600 and probe.silent_after_s == 0.0  # speaks only when pressed: never "silent"


def test_a_probe_on_a_pseudo_terminal_gives_core_temperatures(tmp_path: Path) -> None:
    readings: list[Reading] = []
    health: list[DeviceHealth] = []
    arrived = threading.Event()

    def sink(reading: Reading) -> None:
        readings.append(reading)
        arrived.set()

    sim = LineSerialDevice(tmp_path / "probe-1")
    sim.start()
    try:
        [cfg] = make_config(tmp_path, devices=[{"id": "probe-1", "kind": "core_probe", "port": sim.path,
                                                "reconnect_s": 0.05}]).devices
        driver = open_driver(cfg, sink, health.append)
        try:
            deadline = time.monotonic() + 10
            while DeviceState.OK not in [h.state for h in health] and time.monotonic() < deadline:
                time.sleep(0.02)
            sim.write(b"NOISE\r\n")
            sim.write(b"T=73.5 C\r\n")
            assert arrived.wait(10)
        finally:
            driver.stop()
    finally:
        sim.stop()
    assert readings == [CoreTemperature(device_id="probe-1", at=readings[0].at, core_c=73.5)]
    assert DeviceState.OK in [h.state for h in health] and driver.bad_frames == 1
