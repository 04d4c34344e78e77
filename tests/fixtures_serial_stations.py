"""Fixtures for the serial station workflows: config, roster, a bus fed by hand on a ManualClock."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from agent.config_file.model import AgentConfig
from agent.core.feedback import Feedback, LogOutput, MemoryOutput
from agent.core.reading_bus import ReadingBus
from agent.core.recorder import ClockMonitor, Recorder
from agent.core.timeutil import ManualClock
from agent.device_registry import DeviceRegistry
from agent.store import Store
from agent.wiring.serial import make_workflows
from drivers.readings import BadgeScan, StableWeight, TemperatureReading, TextInput
from tests.conftest import make_config

STAFF = [
    {"staff_id": "S001", "name": "张三", "badges": ["0004212345"], "health_cert_expires_on": "2027-06-30"},
    {"staff_id": "S002", "name": "李四", "badges": ["0004212346"], "health_cert_expires_on": "2026-11-01"},
    {"staff_id": "S003", "name": "王五", "badges": ["0004212347"], "health_cert_expires_on": "2026-12-10"},
    {"staff_id": "L001", "name": "赵校长", "badges": ["0009990001"], "role": "leader"},
    {"staff_id": "I001", "name": "钱科长", "badges": ["0009990002"], "role": "inspector"},
]
ZHANG, LI, WANG, LEADER, INSPECTOR = (s["badges"][0] for s in STAFF)
UNKNOWN = "0000000042"

# one set of devices per station kind (ids are what the tests publish readings as)
DEVICES = {
    "badge-1": {"kind": "badge_reader", "protocol": "serial_line"},
    "thermo-1": {"kind": "ir_thermometer", "protocol": "ascii_line"},
    "scale-1": {"kind": "scale", "protocol": "ad_ascii"},
    "keypad-1": {"kind": "barcode_reader", "protocol": "serial_line"},
    "barcode-1": {"kind": "barcode_reader", "protocol": "serial_line"},
}


def station_config(tmp_path: Path, station: dict[str, Any], **sections: Any) -> AgentConfig:
    """A config with one station (kind + options) wired to the devices it names."""
    used = [v for k, v in station.items() if k in ("badge", "thermometer", "scale", "keypad", "barcode")]
    devices = [{"id": d, "port": f"/dev/null-{d}", **DEVICES[d]} for d in used]
    site = sections.pop("site", {})
    site.setdefault("staff", STAFF)
    return make_config(tmp_path, devices=devices, stations=[{"id": "st-1", **station}], site=site, **sections)


class Rig:
    """Workflows on a bus, fed readings at a ManualClock's time; feedback kept in memory."""

    def __init__(self, config: AgentConfig, start: datetime, cameras: dict[str, Any] | None = None) -> None:
        self.config = config
        self.clock = ManualClock(start)
        self.store = Store(config.store.path, config.store.media_dir, durability="process_crash")
        self.recorder = Recorder(config, self.store, self.clock, ClockMonitor(lambda: (True, "test")))
        self.screen = MemoryOutput()
        self.feedback = Feedback([self.screen, LogOutput()], self.clock)
        self.store.replace_roster([s.model_dump() for s in config.site.staff], start.isoformat())
        self.bus = ReadingBus(self.clock)
        self.devices = DeviceRegistry()  # what the stations count in a device's health
        self.workflows = make_workflows(config, self.recorder, self.feedback, cameras,  # cameras: StationCamera by id
                                        device_notes=self.devices.count)
        for workflow in self.workflows:
            self.bus.add_workflow(workflow)

    def close(self) -> None:
        self.store.close()

    # --- feeding ---------------------------------------------------------------------

    def _feed(self, reading) -> None:
        self.bus.publish(reading)
        self.bus.drain()
        assert self.bus.failures == 0, "a workflow raised"

    def badge(self, card: str, device: str = "badge-1") -> None:
        self._feed(BadgeScan(device_id=device, at=self.clock(), card=card))

    def temperature(self, celsius: float, device: str = "thermo-1") -> None:
        self._feed(TemperatureReading(device_id=device, at=self.clock(), object_c=celsius, ambient_c=24.0))

    def weight(self, grams: float, device: str = "scale-1") -> None:
        self._feed(StableWeight(device_id=device, at=self.clock(), grams=grams))

    def text(self, text: str, device: str = "keypad-1") -> None:
        self._feed(TextInput(device_id=device, at=self.clock(), text=text))

    def advance(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        self.bus.tick(self.clock())

    # --- looking -----------------------------------------------------------------------

    def records(self, type_: str) -> list[dict[str, Any]]:
        return list(self.store.iter_records(type_=type_))

    def last_said(self) -> str:
        return self.screen.messages[-1].text

    def said(self) -> list[str]:
        return self.screen.texts()
