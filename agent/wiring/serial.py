"""Serial capability: open every device in ``config.devices``, run the station workflows.

Each device becomes a supervised component that starts its driver (the drivers'
``open_driver`` factory: it reconnects by itself when a cable is pulled) with the bus
as its reading and health sinks. Each ``config.stations`` entry becomes a workflow on
the bus, answering people through ``agent.core.feedback`` (console + log unless a caller
installed another). ``DeviceHealthWatch`` turns the serial devices' health into
``device_offline`` alarms. A station that names a camera gets its ``StationCamera``
(``agent.wiring.photos``), built from the cameras the vision capability already reads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from agent.config.devices import DeviceConfig
from agent.config.settings import Settings
from agent.config.stations import StationConfig
from agent.config_file.model import AgentConfig
from agent.core.feedback import Feedback
from agent.core.photos import StationCamera
from agent.core.recorder import Recorder
from agent.stations.base import DeviceNotes, StationWorkflow
from agent.stations.registry import BY_NAME, STATION_KINDS
from agent.view import CameraFeed
from agent.wiring.capability import BuildContext, Capability
from agent.wiring.photos import station_cameras
from agent.workflows.device_health import serial_policy
from drivers.readings import HealthSink, ReadingSink
from drivers.serial_devices import Driver, open_driver

log = logging.getLogger("agent.wiring.serial")

# kind -> workflow class, from the station kinds' registry
WORKFLOWS: dict[str, type[StationWorkflow[Any]]] = {kind.name: kind.workflow for kind in STATION_KINDS}


class SerialDeviceComponent:
    """One device's driver under the supervisor: ``run`` opens it, waits for stop, stops it."""

    def __init__(self, cfg: DeviceConfig, sink: ReadingSink, health_sink: HealthSink,
                 now: Callable[[], datetime]) -> None:
        self.cfg = cfg
        self.name = f"serial-{cfg.id}"
        self._sink, self._health_sink, self._now = sink, health_sink, now
        self.driver: Driver | None = None

    def run(self, stop: threading.Event) -> None:
        driver = self.driver = open_driver(self.cfg, self._sink, self._health_sink, self._now)
        try:
            stop.wait()
        finally:
            driver.stop()


def resolve_station(station: StationConfig, config: Settings) -> StationConfig:
    """Fill what a station leaves to its devices (its kind's ``resolve``: a morning check's
    settle readings from its thermometer's protocol)."""
    resolve = BY_NAME[station.kind].resolve
    return station if resolve is None else resolve(station, config)


def make_workflows(config: AgentConfig, recorder: Recorder, feedback: Feedback,
                   cameras: Mapping[str, StationCamera] | None = None,
                   device_notes: DeviceNotes | None = None) -> list[StationWorkflow[Any]]:
    cameras = cameras or {}
    return [WORKFLOWS[s.kind](resolve_station(s, config), config, recorder, feedback,
                              camera=cameras.get(s.camera) if s.camera else None, device_notes=device_notes)
            for s in config.stations]


def build(ctx: BuildContext, feeds: Mapping[str, CameraFeed] | None = None,
          recorders: Mapping[str, Callable[[], str]] | None = None) -> Capability:
    """``feeds``: the cameras vision decodes (their newest frames make the stations' photos);
    ``recorders``: the video ring's recorder state per camera (a lost camera takes no photo)."""
    config = ctx.config
    cameras = station_cameras(config, feeds or {}, ctx.now, recorders)
    workflows = make_workflows(config, ctx.recorder, ctx.feedback, cameras, ctx.devices.count)
    for workflow in workflows:
        log.info("station ready station=%s kind=%s", workflow.station.id, workflow.kind)
    devices = tuple(SerialDeviceComponent(cfg, ctx.reading_sink, ctx.health_sink, ctx.now)
                    for cfg in config.devices)
    return Capability("serial", components=devices, workflows=tuple(workflows),
                      offline=dict.fromkeys((d.id for d in config.devices), serial_policy()))
