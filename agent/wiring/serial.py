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

from agent.config.devices import DeviceConfig
from agent.config.model import AgentConfig
from agent.config.stations import StationConfig
from agent.core.feedback import Feedback
from agent.core.photos import StationCamera
from agent.core.recorder import Recorder
from agent.view import CameraFeed
from agent.wiring.capability import BuildContext, Capability
from agent.wiring.photos import station_cameras
from agent.workflows.additive import AdditiveStation
from agent.workflows.checkin import CheckinStation
from agent.workflows.device_health import serial_policy
from agent.workflows.food_sample import FoodSampleStation
from agent.workflows.morning_check import MorningCheck
from agent.workflows.receiving import Receiving
from agent.workflows.stations import StationWorkflow
from drivers.readings import HealthSink, ReadingSink
from drivers.serial_devices import Driver, open_driver
from drivers.thermometer import ThermometerConfig

log = logging.getLogger("agent.wiring.serial")

# kind -> workflow class; the kinds and their required devices: agent.config.model.STATION_REQUIRED
WORKFLOWS: dict[str, type[StationWorkflow]] = {
    cls.kind: cls for cls in (MorningCheck, FoodSampleStation, Receiving, AdditiveStation, CheckinStation)}
STREAMING_SETTLE_READINGS = 3  # a streaming thermometer: 3 steady frames (150 ms at 20 Hz) make a reading


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


def resolve_station(station: StationConfig, config: AgentConfig) -> StationConfig:
    """Fill what a station leaves to its devices (settle readings from the thermometer's protocol)."""
    if station.kind != "morning_check" or station.settle_readings is not None:
        return station
    thermometer = next(d for d in config.devices if d.id == station.thermometer)
    streaming = isinstance(thermometer, ThermometerConfig) and thermometer.protocol == "gy90615"
    return station.model_copy(update={"settle_readings": STREAMING_SETTLE_READINGS if streaming else 1})


def make_workflows(config: AgentConfig, recorder: Recorder, feedback: Feedback,
                   cameras: Mapping[str, StationCamera] | None = None) -> list[StationWorkflow]:
    cameras = cameras or {}
    return [WORKFLOWS[s.kind](resolve_station(s, config), config, recorder, feedback,
                              camera=cameras.get(s.camera) if s.camera else None) for s in config.stations]


def build(ctx: BuildContext, feeds: Mapping[str, CameraFeed] | None = None,
          recorders: Mapping[str, Callable[[], str]] | None = None) -> Capability:
    """``feeds``: the cameras vision decodes (their newest frames make the stations' photos);
    ``recorders``: the video ring's recorder state per camera (a lost camera takes no photo)."""
    config = ctx.config
    cameras = station_cameras(config, feeds or {}, ctx.now, recorders)
    workflows = make_workflows(config, ctx.recorder, ctx.feedback, cameras)
    for workflow in workflows:
        log.info("station ready station=%s kind=%s", workflow.station.id, workflow.kind)
    devices = tuple(SerialDeviceComponent(cfg, ctx.reading_sink, ctx.health_sink, ctx.now)
                    for cfg in config.devices)
    return Capability("serial", components=devices, workflows=tuple(workflows),
                      offline=dict.fromkeys((d.id for d in config.devices), serial_policy()))
