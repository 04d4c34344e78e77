"""The ``core_temperature`` station kind: one folder and one registry line, a real duty.

A cook badges, picks the dish at the keypad and puts the probe in its core: cooked
through at 70 °C, kept hot at 60 °C (docs/DOMAIN.md), each a ``core_temperature_check``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from agent.app import Agent
from agent.core.feedback import MemoryOutput
from agent.core.recorder import ClockMonitor
from agent.core.timeutil import ManualClock
from agent.stations.core_temperature.config import CoreTemperatureConfig
from drivers.readings import CoreTemperature
from simulator.devices.serial_devices import LineSerialDevice, SerialBadgeSim
from tests.conftest import TZ, make_config
from tests.fixtures_serial_stations import STAFF, ZHANG, Rig

LUNCH = datetime(2026, 11, 30, 11, 40, tzinfo=TZ)
MENU = [{"name": "红烧肉"}, {"name": "番茄炒蛋"}]
DEVICES = [{"id": "badge-1", "kind": "badge_reader", "port": "/dev/null-badge"},
           {"id": "probe-1", "kind": "core_probe", "port": "/dev/null-probe"},
           {"id": "keypad-1", "kind": "barcode_reader", "port": "/dev/null-keypad"}]


def station(**options: Any) -> dict[str, Any]:
    return {"id": "ct-1", "kind": "core_temperature", "badge": "badge-1", "core_probe": "probe-1",
            "keypad": "keypad-1", **options}


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    config = make_config(tmp_path, devices=DEVICES, stations=[station()], site={"staff": STAFF, "menu": MENU})
    rig = Rig(config, LUNCH)
    yield rig
    rig.close()


def probe(rig: Rig, core_c: float) -> None:
    rig._feed(CoreTemperature(device_id="probe-1", at=rig.clock(), core_c=core_c))


def test_a_dish_cooked_through_passes_and_one_below_70_fails(rig: Rig) -> None:
    rig.badge(ZHANG)
    assert "1 红烧肉 2 番茄炒蛋" in rig.last_said()
    rig.text("1")
    probe(rig, 72.4)
    assert rig.last_said() == "红烧肉 72.4 °C 合格 / OK"
    rig.text("2")
    probe(rig, 64.0)
    low = rig.screen.messages[-1]
    assert low.level == "error" and "未达 70 °C" in low.text
    assert low.screen is not None and low.screen.next_step == "keep_cooking"
    probe(rig, 75.5)  # heated and probed again: the same dish
    records = [r for r in rig.records("core_temperature_check")]
    assert [(r["data"]["dish"], r["data"]["core_c"], r["verdict"]) for r in records] == [
        ("红烧肉", 72.4, "pass"), ("番茄炒蛋", 64.0, "fail"), ("番茄炒蛋", 75.5, "pass")]
    assert {r["data"]["stage"] for r in records} == {"cooking"} and {r["data"]["meal"] for r in records} == {"lunch"}
    assert records[1]["findings"] == ["core_below_target"]
    assert records[0]["source"] == {"device_id": "probe-1", "kind": "core_probe"}
    assert records[0]["operator"]["staff_id"] == "S001"


def test_a_reading_without_a_badge_or_a_dish_is_nobodys(rig: Rig) -> None:
    probe(rig, 80.0)
    assert rig.last_said() == "请先刷卡 / badge first"
    rig.badge(ZHANG)
    probe(rig, 80.0)
    assert rig.last_said() == "请先选择菜品 / choose the dish first"
    assert rig.records("core_temperature_check") == []


def test_hot_holding_is_held_to_60_and_a_typed_dish_counts(tmp_path: Path) -> None:
    config = make_config(tmp_path, devices=DEVICES, stations=[station(stage="hot_holding")],
                         site={"staff": STAFF, "menu": MENU})
    rig = Rig(config, LUNCH)
    try:
        rig.badge(ZHANG)
        rig.text("米饭")
        probe(rig, 61.0)
        rig.text("汤")
        probe(rig, 55.0)
        assert rig.screen.messages[-1].screen.next_step == "reheat"  # type: ignore[union-attr]
        got = [(r["data"]["dish"], r["data"]["target_c"], r["verdict"]) for r in rig.records("core_temperature_check")]
        assert got == [("米饭", 60.0, "pass"), ("汤", 60.0, "fail")]
    finally:
        rig.close()


def test_the_config_takes_the_kind_with_its_probe_and_refuses_a_wrong_device(tmp_path: Path) -> None:
    [parsed] = make_config(tmp_path, devices=DEVICES, stations=[station()]).stations
    assert isinstance(parsed, CoreTemperatureConfig) and parsed.cooking_min_c == 70.0
    with pytest.raises(ValidationError, match="needs a core_probe device"):
        make_config(tmp_path, devices=DEVICES, stations=[station(core_probe=None)])
    with pytest.raises(ValidationError, match="core_probe 'keypad-1' is not a declared core_probe device"):
        make_config(tmp_path, devices=DEVICES, stations=[station(core_probe="keypad-1", keypad=None)])


def wait_until(predicate: Callable[[], object], what: str, timeout: float = 8.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.timeout(60)
def test_through_pseudo_terminals_from_the_probes_line_to_the_stored_record(tmp_path: Path) -> None:
    badge = SerialBadgeSim(link_path=tmp_path / "badge").start()
    keypad = LineSerialDevice(link_path=tmp_path / "keypad").start()
    probe_sim = LineSerialDevice(link_path=tmp_path / "probe").start()
    fast = {"reconnect_s": 0.05, "reconnect_max_s": 0.2}
    devices = [{"id": "badge-1", "kind": "badge_reader", "protocol": "serial_line", "port": badge.path, **fast},
               {"id": "keypad-1", "kind": "barcode_reader", "protocol": "serial_line", "port": keypad.path, **fast},
               {"id": "probe-1", "kind": "core_probe", "port": probe_sim.path, **fast}]
    config = make_config(tmp_path, devices=devices, stations=[station()], site={"staff": STAFF, "menu": MENU})
    clock = ManualClock(LUNCH)
    agent = Agent(config, now=clock, monotonic=clock.monotonic, clock=ClockMonitor(lambda: (True, "test")))
    screen = MemoryOutput()
    agent.feedback.add_output(screen)
    try:
        for component in agent.components:  # the serial devices and the bus: the store ends the line
            if component.name == "reading-bus" or component.name.startswith("serial-"):
                agent.supervisor.start(component)
        wait_until(lambda: all(agent.devices.snapshot().get(d, {}).get("state") == "ok"
                               for d in ("badge-1", "keypad-1", "probe-1")), "devices up")
        badge.scan(ZHANG)
        wait_until(lambda: "choose the dish" in " ".join(screen.texts()), "the dish prompt")
        keypad.write(b"1\r\n")
        wait_until(lambda: "probe its core" in " ".join(screen.texts()), "the dish picked")
        probe_sim.write(b"T=72.4 C\r\n")
        [record] = wait_until(lambda: list(agent.store.iter_records(type_="core_temperature_check")),
                              "the record")  # type: ignore[misc]
        assert (record["data"]["dish"], record["data"]["core_c"], record["verdict"]) == ("红烧肉", 72.4, "pass")
    finally:
        agent.stop()
        for sim in (badge, keypad, probe_sim):
            sim.stop()
