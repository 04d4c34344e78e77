"""End to end through pseudo-terminals: simulated devices → drivers → agent bus → station
workflows → store, with the expected verdicts, alarms and feedback; and device health."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from agent.app import Agent
from agent.core.feedback import MemoryOutput
from agent.core.recorder import ClockMonitor
from agent.core.timeutil import ManualClock
from agent.workflows.device_health import DeviceHealthWatch, serial_policy
from drivers.readings import DeviceHealth, DeviceState
from simulator.devices.serial_devices import (
    GyThermometerSim,
    LineSerialDevice,
    ScaleSim,
    SerialBadgeSim,
)
from tests.conftest import TZ, make_config
from tests.fixtures_serial_stations import LI, STAFF, UNKNOWN, WANG, ZHANG

pytestmark = pytest.mark.timeout(60)
FAST = {"reconnect_s": 0.05, "reconnect_max_s": 0.2}
LUNCH = datetime(2026, 11, 30, 11, 50, tzinfo=TZ)


def wait_until(predicate: Callable[[], object], what: str, timeout: float = 8.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Site:
    """The simulated devices, the agent (serial capability and bus only), its screen."""

    def __init__(self, tmp_path: Path) -> None:
        self.thermo = GyThermometerSim(link_path=tmp_path / "thermo").start()
        self.badge_mc = SerialBadgeSim(link_path=tmp_path / "badge-mc").start()
        self.keypad = LineSerialDevice(link_path=tmp_path / "keypad").start()
        self.badge_fs = SerialBadgeSim(link_path=tmp_path / "badge-fs").start()
        self.scale = ScaleSim("ad_ascii", link_path=tmp_path / "scale", unit="g").start()
        self.sims = [self.thermo, self.badge_mc, self.keypad, self.badge_fs, self.scale]
        devices = [
            {"id": "thermo-1", "kind": "ir_thermometer", "protocol": "gy90615", "port": self.thermo.path, **FAST},
            {"id": "badge-mc", "kind": "badge_reader", "protocol": "serial_line", "port": self.badge_mc.path, **FAST},
            {"id": "keypad-mc", "kind": "barcode_reader", "protocol": "serial_line", "port": self.keypad.path, **FAST},
            {"id": "badge-fs", "kind": "badge_reader", "protocol": "serial_line", "port": self.badge_fs.path, **FAST},
            {"id": "scale-fs", "kind": "scale", "protocol": "ad_ascii", "port": self.scale.path,
             "baudrate": 9600, "bytesize": 8, "parity": "N", **FAST},
        ]
        stations = [
            {"id": "mc-1", "kind": "morning_check", "badge": "badge-mc", "thermometer": "thermo-1",
             "keypad": "keypad-mc"},
            {"id": "fs-1", "kind": "food_sample", "badge": "badge-fs", "scale": "scale-fs"},
        ]
        config = make_config(tmp_path, devices=devices, stations=stations,
                             site={"staff": STAFF, "menu": [{"name": "番茄炒蛋"}, {"name": "红烧肉"}]})
        self.clock = ManualClock(LUNCH)
        self.agent = Agent(config, now=self.clock, monotonic=self.clock.monotonic,
                           clock=ClockMonitor(lambda: (True, "test")))
        self.screen = MemoryOutput()
        self.agent.feedback.add_output(self.screen)
        for component in self.agent.components:  # no uplink here: the store is the end of the line
            if component.name == "reading-bus" or component.name.startswith("serial-"):
                self.agent.supervisor.start(component)

    def close(self) -> None:
        self.agent.stop()
        for sim in self.sims:
            sim.stop()

    def records(self, type_: str) -> list[dict]:
        return list(self.agent.store.iter_records(type_=type_))

    def said(self, station: str, needle: str, after: int = 0) -> str:
        """Wait until the station's screen shows a message containing ``needle``."""
        found = self.screen.wait_for(lambda m: m.station == station and needle in m.text, 8.0, after)
        assert found is not None, f"{station} never said {needle!r}: {self.screen.texts(station)}"
        return found.text

    def mark(self) -> int:
        return len(self.screen.messages)

    def device_state(self, device_id: str) -> str | None:
        return self.agent.devices.snapshot().get(device_id, {}).get("state")

    def check(self, card: str, celsius: float) -> str:
        """One morning check: badge, forehead, wait for the answer, step away."""
        self.clock.advance(5)  # a fresh scan (readers' repeat suppression is 3 s)
        mark = self.mark()
        self.badge_mc.scan(card)
        self.said("mc-1", "请测温", mark)
        self.thermo.present(celsius)
        text = self.said("mc-1", "°C", mark)
        self.thermo.away()
        return text


@pytest.fixture
def site(tmp_path):
    site = Site(tmp_path)
    wait_until(lambda: all(site.device_state(d) == "ok" for d in ("thermo-1", "badge-mc", "scale-fs")),
               "devices ok")
    yield site
    site.close()


def test_morning_scenario_records_alarms_and_feedback(site):
    assert site.check(ZHANG, 36.5) == "张三 36.5 °C 合格 / OK"
    text = site.check(WANG, 37.9)
    assert "温度异常，请复测" in text and "不得上岗" in text
    assert "健康证已过期" in site.check(LI, 36.6)

    mark = site.mark()
    site.badge_mc.scan(UNKNOWN)
    site.said("mc-1", "未登记的工卡", mark)

    # no temperature in time: the 30 s window passes on the agent's clock
    site.clock.advance(5)
    mark = site.mark()
    site.badge_mc.scan(ZHANG)
    site.said("mc-1", "请测温", mark)
    site.clock.advance(31)
    site.said("mc-1", "未测到体温", mark)

    # a re-check of the feverish person, with keypad answers
    site.clock.advance(5)
    mark = site.mark()
    site.badge_mc.scan(WANG)
    site.said("mc-1", "请测温", mark)
    site.keypad.write(b"0\r\n")
    site.said("mc-1", "已记录回答", mark)
    site.thermo.present(36.8)
    assert "复测正常" in site.said("mc-1", "°C", mark)
    site.thermo.away()

    checks = site.records("staff_health_check")
    summary = [(r["data"]["staff_id"], r["data"]["temperature_c"], r["verdict"], r["data"]["attempt"])
               for r in checks]
    assert summary == [("S001", 36.5, "pass", 1), ("S003", 37.9, "fail", 1), ("S002", 36.6, "fail", 1),
                       ("S003", 36.8, "warn", 2)]
    assert checks[3]["data"]["recheck_of"] == checks[1]["id"] and checks[3]["data"]["fit_for_duty"] is False
    assert checks[1]["source"] == {"device_id": "thermo-1", "kind": "ir_thermometer"}
    assert checks[2]["findings"] == ["health_certificate_expired"]
    [alarm] = site.records("alarm")
    assert alarm["data"]["kind"] == "fever" and alarm["data"]["subject"]["staff_id"] == "S003"
    assert site.agent.store.duty("2026-11-30", "S003")["fit"] == 0
    assert site.agent.store.duty("2026-11-30", "S001")["fit"] == 1


def test_food_samples_from_the_scale(site):
    mark = site.mark()
    site.badge_fs.scan(ZHANG)
    site.said("fs-1", "番茄炒蛋", mark)
    site.scale.place(131.0)
    site.said("fs-1", "131 g 合格", mark)
    site.scale.clear()
    site.scale.place(98.0)
    site.said("fs-1", "不足 125 g", mark)
    samples = site.records("food_sample")
    assert [(r["data"]["dish"], r["data"]["grams"], r["verdict"]) for r in samples] == [
        ("番茄炒蛋", 131.0, "pass"), ("红烧肉", 98.0, "fail")]
    assert samples[0]["data"]["kept_until"] == "2026-12-02T11:50:00+08:00"


def test_ports_removed_and_recreated_mid_scenario(site):
    site.check(ZHANG, 36.5)
    mark = site.mark()
    site.badge_fs.scan(ZHANG)
    site.scale.place(131.0)
    site.said("fs-1", "131 g 合格", mark)

    # both cables pulled: the paths vanish; the drivers notice and wait for them
    site.thermo.unplug()
    site.scale.unplug()
    wait_until(lambda: site.device_state("thermo-1") == "disconnected"
               and site.device_state("scale-fs") == "disconnected", "disconnected")
    site.thermo.replug()
    site.scale.replug()  # the same 131 g is still on the pan and streams again
    wait_until(lambda: site.device_state("thermo-1") == "ok" and site.device_state("scale-fs") == "ok", "ok again")

    assert "王五 36.6 °C 合格" in site.check(WANG, 36.6)
    time.sleep(0.5)  # stable 131 g frames keep arriving after the replug
    assert len(site.records("food_sample")) == 1, "the weight on the pan was recorded twice"
    assert [r["data"]["temperature_c"] for r in site.records("staff_health_check")] == [36.5, 36.6]
    # recovered inside the drivers: no component was restarted, no alarm for a quick replug
    restarts = site.agent.supervisor.restarts
    assert restarts["serial-thermo-1"] == 0 and restarts["serial-scale-fs"] == 0
    assert site.records("alarm") == []


def test_a_device_gone_for_long_raises_device_offline_and_clears(site):
    site.scale.unplug()
    wait_until(lambda: site.device_state("scale-fs") == "disconnected", "disconnected")
    site.clock.advance(11)  # past the 10 s grace on the agent's clock
    wait_until(lambda: site.records("alarm"), "device_offline alarm")
    site.scale.replug()
    wait_until(lambda: len(site.records("alarm")) == 2, "alarm cleared")
    raised, cleared = site.records("alarm")
    assert raised["data"]["kind"] == cleared["data"]["kind"] == "device_offline"
    assert raised["data"]["subject"] == {"device_id": "scale-fs"}
    assert (raised["data"]["state"], cleared["data"]["state"]) == ("raised", "cleared")


# --- device health unit behaviour ------------------------------------------------------------


def _health(state: DeviceState, at: datetime) -> DeviceHealth:
    return DeviceHealth(device_id="thermo-1", kind="ir_thermometer", state=state, at=at, detail="t")


def test_device_health_silent_at_once_disconnect_after_grace(tmp_path):
    from agent.core.recorder import Recorder
    from agent.store import Store

    config = make_config(tmp_path)
    store = Store(config.store.path, config.store.media_dir, durability="process_crash")
    clock = ManualClock(LUNCH)
    watch = DeviceHealthWatch(Recorder(config, store, clock, ClockMonitor(lambda: (True, "t"))),
                              {"thermo-1": serial_policy(disconnect_grace_s=10)}, monotonic=clock.monotonic)
    watch.on_health(_health(DeviceState.DISCONNECTED, clock()))
    watch.tick(clock.advance(9))
    assert store.open_alarms() == []
    watch.on_health(_health(DeviceState.OK, clock()))  # back within the grace: nothing
    watch.tick(clock.advance(20))
    assert store.open_alarms() == []
    watch.on_health(_health(DeviceState.SILENT, clock()))  # silent: the driver already waited
    assert [a["kind"] for a in store.open_alarms()] == ["device_offline"]
    watch.on_health(_health(DeviceState.DISCONNECTED, clock()))
    watch.tick(clock.advance(30))
    assert len(store.open_alarms()) == 1  # still the one alarm
    watch.on_health(_health(DeviceState.OK, clock()))
    assert store.open_alarms() == []
    store.close()
