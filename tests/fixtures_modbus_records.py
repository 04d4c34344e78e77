"""Fixtures for the Modbus workflows: a config with role-bearing devices, a store, readings by hand."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from agent.config_file.model import AgentConfig
from agent.core.recorder import ClockMonitor, Recorder
from agent.core.timeutil import ManualClock
from agent.store import Store
from agent.workflows.cold_chain import ColdChain
from agent.workflows.device_health import DeviceHealthWatch, modbus_policy
from agent.workflows.disinfection import Disinfection
from agent.workflows.modbus_points import modbus_device_ids, point_roles
from agent.workflows.premises import Premises
from drivers.readings import RegisterSample
from tests.conftest import make_config

DEVICES: list[dict[str, Any]] = [
    {"id": "fridge-1", "profile": "xy-md02", "slave": 1, "role": "fridge", "room": "kitchen"},
    {"id": "freezer-1", "profile": "rs-ws-n01", "slave": 2, "role": "freezer"},
    {"id": "store-1", "profile": "xy-md02", "slave": 3, "role": "store", "room": "dry_store"},
    {"id": "cabinet-1", "profile": "cabinet-pt100", "slave": 4, "role": "cabinet"},
    {"id": "cabinet-2", "profile": "cabinet-pt100", "slave": 5, "role": "cabinet", "method": "steam"},
    {"id": "io-1", "profile": "di-module-4ch", "slave": 6, "role": "uv_lamp", "room": "kitchen",
     "channels": [{"point": "run_2", "role": "ozone", "room": "store_room"},
                  {"point": "run_3", "role": "cabinet_contact", "cabinet": "cabinet-2"}]},
]


def modbus_config(tmp_path: Path, devices: list[dict[str, Any]] | None = None, **sections: Any) -> AgentConfig:
    bus = {"kind": "modbus_rtu", "id": "line-1", "port": "/dev/null-modbus",
           "devices": DEVICES if devices is None else devices}
    return make_config(tmp_path, modbus=[bus], **sections)


class Rig:
    """The Modbus workflows on one store, fed readings at a ManualClock's time."""

    def __init__(self, config: AgentConfig, start: datetime, **workflow_options: Any) -> None:
        self.config = config
        self.start = start
        self.clock = ManualClock(start)
        self.store = Store(config.store.path, config.store.media_dir, durability="process_crash")
        self.recorder = Recorder(config, self.store, self.clock, ClockMonitor(lambda: (True, "test")))
        self.options = workflow_options
        self._build()

    def _build(self) -> None:
        roles = point_roles(self.config)
        self.cold = ColdChain(self.config, self.recorder, roles, **self.options.get("cold", {}))
        self.disinfection = Disinfection(self.config, self.recorder, roles, mono=self.clock.monotonic,
                                         **self.options.get("disinfection", {}))
        self.premises = Premises(self.config, self.recorder, roles, mono=self.clock.monotonic,
                                 **self.options.get("premises", {}))
        self.offline = DeviceHealthWatch(self.recorder, monotonic=self.clock.monotonic)
        self.offline.watch(modbus_device_ids(self.config),
                           modbus_policy(self.config.rules.cold_chain.probe_silent_minutes))
        self.workflows = [self.cold, self.disinfection, self.premises, self.offline]

    def restart(self) -> None:
        """A new agent process on the same database (workflow state from kv only)."""
        self._build()

    def close(self) -> None:
        self.store.close()

    def feed(self, device_id: str, **values: float) -> None:
        """One reading at the clock's now (wall and monotonic), to every workflow that wants it, then a tick."""
        reading = RegisterSample(device_id=device_id, at=self.clock(), mono=self.clock.monotonic(), values=values)
        for workflow in self.workflows:
            if workflow.wants(reading):
                workflow.on_reading(reading)
        self.tick()

    def tick(self) -> None:
        for workflow in self.workflows:
            workflow.tick(self.clock())

    def curve(self, device_id: str, temps: list[float], step_s: float = 10.0, point: str = "temperature_c") -> None:
        """A reading every ``step_s`` seconds, one per value."""
        for value in temps:
            self.feed(device_id, **{point: value})
            self.clock.advance(step_s)

    def hold(self, device_id: str, seconds: float, step_s: float = 10.0, **values: float) -> None:
        """The same values every ``step_s`` for ``seconds``."""
        end = self.clock() + timedelta(seconds=seconds)
        while self.clock() < end:
            self.feed(device_id, **values)
            self.clock.advance(step_s)

    def records(self, type_: str) -> list[dict[str, Any]]:
        return list(self.store.iter_records(type_=type_))

    def alarms(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [a for a in self.records("alarm") if kind is None or a["data"]["kind"] == kind]

    def open_alarm_kinds(self) -> list[tuple[str, str]]:
        import json

        return sorted((row["kind"], json.loads(row["subject"])["device_id"]) for row in self.store.open_alarms())
