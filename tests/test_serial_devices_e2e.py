"""End to end through real pseudo-terminals: simulated device → driver → readings and health."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drivers.badge import BadgeReaderConfig
from drivers.barcode import BarcodeReaderConfig
from drivers.readings import (
    BadgeScan,
    DeviceHealth,
    DeviceState,
    Reading,
    StableWeight,
    TemperatureReading,
    TextInput,
)
from drivers.scale import ScaleConfig
from drivers.serial_devices import open_driver
from drivers.thermometer import ThermometerConfig
from simulator.devices.serial_devices import (
    AsciiThermometerSim,
    GyThermometerSim,
    LineSerialDevice,
    PtySerialDevice,
    ScaleSim,
    SerialBadgeSim,
)

pytestmark = pytest.mark.timeout(30)
FAST = {"reconnect_s": 0.05, "reconnect_max_s": 0.2}


class Recorder:
    """Collects readings and health from driver threads; waits with deadlines."""

    def __init__(self) -> None:
        self.readings: list[Reading] = []
        self.health: list[DeviceHealth] = []
        self._cond = threading.Condition()

    def reading(self, r: Reading) -> None:
        with self._cond:
            self.readings.append(r)
            self._cond.notify_all()

    def health_changed(self, h: DeviceHealth) -> None:
        with self._cond:
            self.health.append(h)
            self._cond.notify_all()

    def wait(self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}: readings={self.readings} "
                                         f"states={[h.state.value for h in self.health]}")
                self._cond.wait(min(left, 0.05))

    def states(self) -> list[DeviceState]:
        return [h.state for h in self.health]

    def wait_state(self, state: DeviceState, after: int = 0, timeout: float = 5.0) -> None:
        self.wait(lambda: state in self.states()[after:], timeout, f"state {state.value}")

    def of(self, kind: type[Reading]) -> list:
        return [r for r in self.readings if isinstance(r, kind)]


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def running() -> Iterator[list]:
    """Stops every simulator and driver a test started, drivers first."""
    things: list = []
    yield things
    for thing in reversed(things):
        thing.stop()


def start(running: list, sim: PtySerialDevice, cfg, rec: Recorder):
    running.append(sim.start())
    driver = open_driver(cfg, rec.reading, rec.health_changed)
    running.append(driver)
    rec.wait_state(DeviceState.OK)
    return driver


def test_gy_thermometer_start_command_and_readings(tmp_path: Path, rec: Recorder, running: list) -> None:
    sim = GyThermometerSim(link_path=tmp_path / "thermo")
    driver = start(running, sim, ThermometerConfig(id="t1", port=sim.path, **FAST), rec)
    rec.wait(lambda: sim.streaming, what="start command")
    sim.present(36.5)
    rec.wait(lambda: any(r.object_c == 36.5 for r in rec.of(TemperatureReading)), what="36.5")
    sim.inject_garbage(50)
    sim.inject_bad_checksums(2)
    sim.present(37.9)
    rec.wait(lambda: any(r.object_c == 37.9 for r in rec.of(TemperatureReading)), what="37.9")
    reading = rec.of(TemperatureReading)[-1]
    assert reading.device_id == "t1" and reading.ambient_c == 25.0 and reading.at.tzinfo is not None
    assert driver.bad_frames >= 1 and driver.good_frames > 2
    assert all(r.object_c in (25.0, 36.5, 37.9) for r in rec.of(TemperatureReading))


def test_ascii_thermometer(tmp_path: Path, rec: Recorder, running: list) -> None:
    sim = AsciiThermometerSim(link_path=tmp_path / "thermo")
    cfg = ThermometerConfig(id="t2", port=sim.path, protocol="ascii_line", **FAST)
    start(running, sim, cfg, rec)
    sim.present(36.6)
    sim.inject_garbage(20)
    sim.present(37.4)
    rec.wait(lambda: len(rec.of(TemperatureReading)) == 2, what="two readings")
    assert [r.object_c for r in rec.of(TemperatureReading)] == [36.6, 37.4]


@pytest.mark.parametrize(("protocol", "unit", "extra"), [
    ("ad_ascii", "g", {}),
    ("indicator_ascii", "kg", {}),
    ("mettler_continuous", "kg", {"checksum": True}),
    ("yaohua_a9", "kg", {"unit": "kg", "settle_frames": 3}),
])
def test_scale_formats_one_reading_per_placement(tmp_path: Path, rec: Recorder, running: list,
                                                 protocol: str, unit: str, extra: dict) -> None:
    sim = ScaleSim(protocol, link_path=tmp_path / "scale", unit=unit, period_s=0.02,
                   checksum=extra.get("checksum", False))
    cfg = ScaleConfig(id="s1", port=sim.path, protocol=protocol, silent_after_s=2, **extra, **FAST)
    driver = start(running, sim, cfg, rec)
    sim.place(131.0)
    rec.wait(lambda: rec.of(StableWeight), what="first weight")
    sim.inject_garbage(30)
    good = driver.good_frames
    rec.wait(lambda: driver.good_frames > good + 20, what="more stable frames")  # it sits there
    sim.place(250.0)
    rec.wait(lambda: len(rec.of(StableWeight)) == 2, what="second weight")
    weights = rec.of(StableWeight)
    assert [w.grams for w in weights] == pytest.approx([131.0, 250.0])
    assert driver.bad_frames >= 1


def test_serial_badge_and_barcode(tmp_path: Path, rec: Recorder, running: list) -> None:
    badge = SerialBadgeSim(link_path=tmp_path / "badge", stx_etx=True)
    start(running, badge, BadgeReaderConfig(id="b1", port=badge.path, protocol="serial_line",
                                            card_format="decimal10", **FAST), rec)
    badge.scan("4212345")
    badge.inject_garbage(10)
    badge.scan("00A1B2C3")
    rec.wait(lambda: len(rec.of(BadgeScan)) == 2, what="two scans")
    assert [s.card for s in rec.of(BadgeScan)] == ["0004212345", "0010597059"]

    codes = LineSerialDevice(link_path=tmp_path / "codes")
    running.append(codes.start())
    running.append(open_driver(BarcodeReaderConfig(id="c1", port=codes.path, protocol="serial_line", **FAST),
                               rec.reading, rec.health_changed))
    rec.wait(lambda: [h for h in rec.health if h.device_id == "c1" and h.state is DeviceState.OK], what="c1 ok")
    codes.write(b"B2026-11-30/LOT42\r\n")
    rec.wait(lambda: rec.of(TextInput), what="barcode")
    assert rec.of(TextInput)[0].text == "B2026-11-30/LOT42"


def test_unplug_mid_stream_recovers_without_duplicates(tmp_path: Path, rec: Recorder, running: list) -> None:
    sim = ScaleSim("ad_ascii", link_path=tmp_path / "scale", period_s=0.02)
    driver = start(running, sim, ScaleConfig(id="s2", port=sim.path, **FAST), rec)
    sim.place(131.0)
    rec.wait(lambda: rec.of(StableWeight), what="weight before unplug")

    n = len(rec.health)
    sim.unplug()
    rec.wait_state(DeviceState.DISCONNECTED, after=n)
    assert not Path(sim.path).exists()
    time.sleep(0.3)  # stay unplugged across several reopen attempts (back-off is 0.05-0.2 s)
    n = len(rec.health)
    sim.replug()
    rec.wait_state(DeviceState.OK, after=n)
    good = driver.good_frames
    rec.wait(lambda: driver.good_frames > good + 10, what="stream after replug")
    # the same 131 g still sits on the pan: no second reading for it
    assert [w.grams for w in rec.of(StableWeight)] == [131.0]
    sim.place(80.0)
    rec.wait(lambda: len(rec.of(StableWeight)) == 2, what="weight after replug")
    assert [w.grams for w in rec.of(StableWeight)] == [131.0, 80.0]


def test_gy_restarted_by_replug_gets_start_command_again(tmp_path: Path, rec: Recorder, running: list) -> None:
    sim = GyThermometerSim(link_path=tmp_path / "thermo")
    start(running, sim, ThermometerConfig(id="t3", port=sim.path, **FAST), rec)
    rec.wait(lambda: sim.streaming, what="streaming")
    sim.unplug()
    assert not sim.streaming
    sim.replug()
    rec.wait(lambda: sim.streaming, what="start command after replug")
    sim.present(36.8)
    rec.wait(lambda: any(r.object_c == 36.8 for r in rec.of(TemperatureReading)), what="36.8 after replug")


def test_badge_path_removed_and_recreated(tmp_path: Path, rec: Recorder, running: list) -> None:
    sim = SerialBadgeSim(link_path=tmp_path / "badge")
    start(running, sim, BadgeReaderConfig(id="b2", port=sim.path, protocol="serial_line", **FAST), rec)
    sim.scan("11112222")
    rec.wait(lambda: len(rec.of(BadgeScan)) == 1, what="first scan")
    link = Path(sim.path)
    target = link.readlink()
    n = len(rec.health)
    link.unlink()  # the by-id name disappears (the pty itself stays open)
    rec.wait_state(DeviceState.DISCONNECTED, after=n)
    n = len(rec.health)
    link.symlink_to(target)
    rec.wait_state(DeviceState.OK, after=n)
    sim.scan("33334444")
    rec.wait(lambda: len(rec.of(BadgeScan)) == 2, what="scan after recreate")
    assert [s.card for s in rec.of(BadgeScan)] == ["11112222", "33334444"]


def test_missing_port_reports_disconnected_then_recovers(tmp_path: Path, rec: Recorder, running: list) -> None:
    sim = SerialBadgeSim(link_path=tmp_path / "badge")
    driver = open_driver(BadgeReaderConfig(id="b3", port=str(tmp_path / "badge"), protocol="serial_line", **FAST),
                         rec.reading, rec.health_changed)
    running.append(driver)
    rec.wait_state(DeviceState.DISCONNECTED)
    running.insert(0, sim.start())
    rec.wait_state(DeviceState.OK)
    assert rec.states()[0] is DeviceState.STARTING


def test_silence_then_ok_again(tmp_path: Path, rec: Recorder, running: list) -> None:
    sim = GyThermometerSim(link_path=tmp_path / "thermo")
    cfg = ThermometerConfig(id="t4", port=sim.path, silent_after_s=0.4, **FAST)
    start(running, sim, cfg, rec)
    rec.wait(lambda: rec.of(TemperatureReading), what="first reading")
    n = len(rec.health)
    sim.mute()
    rec.wait_state(DeviceState.SILENT, after=n)
    silent = rec.health[-1]
    assert silent.detail.startswith("no valid frame") and silent.good_frames > 0
    n = len(rec.health)
    sim.unmute()
    rec.wait_state(DeviceState.OK, after=n)
    assert rec.states()[-2:] == [DeviceState.SILENT, DeviceState.OK]


def test_garbage_only_is_silent_not_ok(tmp_path: Path, rec: Recorder, running: list) -> None:
    sim = ScaleSim("yaohua_a9", link_path=tmp_path / "scale", unit="kg")
    sim.mute()
    driver = start(running, sim, ScaleConfig(id="s3", port=sim.path, protocol="yaohua_a9",
                                             silent_after_s=0.4, **FAST), rec)
    # only noise on the line: the port is open but nothing valid arrives
    sim.next_frame = lambda: b""  # type: ignore[method-assign]
    sim.unmute()
    stop = threading.Event()

    def noise() -> None:
        while not stop.wait(0.05):
            sim.inject_garbage(16)

    t = threading.Thread(target=noise, daemon=True)
    t.start()
    try:
        rec.wait_state(DeviceState.SILENT)
        rec.wait(lambda: driver.bad_frames > 0, what="bad frames")
        assert driver.good_frames == 0 and not rec.readings
    finally:
        stop.set()
        t.join()


def test_absurd_scale_value_rejected_and_counted_in_health(tmp_path: Path, rec: Recorder,
                                                          running: list) -> None:
    # a corrupted A&D frame "ST,+9999.00 kg" must never become a 9,999,000 g sample
    sim = ScaleSim("ad_ascii", link_path=tmp_path / "scale", unit="kg", decimals=2, period_s=0.02)
    driver = start(running, sim, ScaleConfig(id="s4", port=sim.path, silent_after_s=0.5, **FAST), rec)
    sim.place(9_999_000.0)
    n = len(rec.health)
    rec.wait_state(DeviceState.SILENT, after=n, timeout=5)  # only absurd frames: nothing valid
    assert rec.of(StableWeight) == []
    assert rec.health[-1].bad_frames > 5 and driver.bad_frames >= rec.health[-1].bad_frames
    sim.place(250.0)  # 0.25 kg on a 2-decimal kg display
    rec.wait(lambda: rec.of(StableWeight), what="a real weight after the absurd ones")
    assert [w.grams for w in rec.of(StableWeight)] == [250.0]
    assert rec.states()[-1] is DeviceState.OK
