"""The agent assembled from its config: store, recorder, reading bus, capabilities.

``Agent`` is what ``canteen-agent run`` starts; tests and the demo build it too. The
capabilities are listed once, in ``Agent.__init__``, in start order; each module's
``build(ctx)`` returns what it adds (``agent.wiring.capability.Capability``) and never
writes onto the agent. Everything the agent holds is declared here. Status, platform
commands and screens read it through ``agent.view.AgentView``, never through ``Agent``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.command_contract import Handler
from agent.config_file.model import AgentConfig
from agent.core.feedback import Feedback
from agent.core.reading_bus import ReadingBus
from agent.core.recorder import ClockMonitor, Recorder
from agent.core.storage_alarm import StorageWatch
from agent.core.timeutil import Monotonic, make_now, mono_beside
from agent.device_registry import DeviceRegistry
from agent.ops.clock_watch import ClockWatch
from agent.ops.lock import AgentLock
from agent.ops.runtime import Component, MainLoop, Supervisor
from agent.records.envelope import ClockState
from agent.store import Store
from agent.store.budget import apply_retention, enforce_budget
from agent.uplink.handlers import core_handlers
from agent.uplink.uplink import Uplink
from agent.version import agent_version
from agent.view import CameraFeed
from agent.wiring import console, modbus, public, schedule, serial, updater, uplink, video, vision
from agent.wiring.capability import BuildContext, Capability
from agent.workflows.device_health import DeviceHealthWatch

if TYPE_CHECKING:
    from agent.schedule.engine import ScheduleEngine
    from agent.video.service import VideoService
    from agent.vision.live import LiveHub
    from agent.vision.pipeline import CameraWorker

log = logging.getLogger("agent.app")
ROSTER_SEEDED = "roster_seeded_from_config"


class Agent:
    def __init__(self, config: AgentConfig, *, now: Callable[[], datetime] | None = None,
                 monotonic: Monotonic | None = None, clock: ClockMonitor | None = None,
                 config_path: Path | None = None) -> None:
        self.config = config
        self.config_path = Path(config_path) if config_path else None
        self.version = agent_version()
        self.now = now or make_now(config.identity.tz)
        # Durations and timeouts; a test or demo that drives ``now`` alone drives this too.
        self.monotonic = mono_beside(now, monotonic)
        self.reload_requested = False
        self.restart_into: Path | None = None  # a remote update: exec this launcher after stopping
        self.store = Store(config.store.path, config.store.media_dir,
                           group_commit_max=config.store.group_commit_max,
                           telemetry_defer_s=config.store.telemetry_defer_s, monotonic=self.monotonic)
        # held from start to stop: the doctor (and a second agent) can tell that this one runs
        self.lock = AgentLock(config.store.path)
        self.recorder = Recorder(config, self.store, self.now, clock)
        self.bus = ReadingBus(self.now)
        self.devices = DeviceRegistry()
        self.feedback = Feedback.default(self.now)  # screens and buzzers: add_output
        self.device_health = DeviceHealthWatch(self.recorder, monotonic=self.monotonic)
        self.supervisor = Supervisor()
        self._uplink: Uplink | None = None  # set below, once every capability's commands are known
        self._sync_roster_from_config()

        ctx = BuildContext(config=config, now=self.now, monotonic=self.monotonic, store=self.store,
                           recorder=self.recorder, devices=self.devices, feedback=self.feedback,
                           reading_sink=self.bus.publish, health_sink=self.bus.publish_health,
                           device_health=self.device_health, publish_live=self._publish_live,
                           config_path=self.config_path, uplink_connected=self._uplink_connected)
        # vision and video before serial: the stations' photos come from the cameras they read
        self.vision = vision.build(ctx)
        self.video_capability = video.build(ctx)
        self.serial = serial.build(ctx, feeds=self.cameras(), recorders=self.video_capability.recorder_states())
        self.modbus = modbus.build(ctx)
        self.schedule = schedule.build(ctx)
        self.public = public.build(ctx, self)  # the social end: representatives, complaints, surveys
        self.console = console.build(ctx, self, self.public.refusals)  # station screens and manager pages
        local: tuple[Capability, ...] = (self.serial, self.modbus, self.vision, self.video_capability,
                                         self.schedule, self.console, self.public)
        # Platform commands by name: the agent's own, then each capability's (vision: snapshot, live).
        self.updater = updater.build(ctx, self, self.restart_into_launcher)  # remote updates
        self.command_handlers: dict[str, Handler] = core_handlers(self)
        for capability in (*local, self.updater):
            self.command_handlers.update(capability.commands)
        self.uplink_capability = uplink.build(ctx, self, self.command_handlers)
        self._uplink = self.uplink_capability.uplink
        update_trial = updater.attach(self.updater, self._uplink, self, self.restart_into_launcher)
        # the one list, in start order: the uplink first (it can be down for days; nothing waits for it)
        self.capabilities: tuple[Capability, ...] = (self.uplink_capability, *local, self.updater)

        self.bus.on_health(self.devices.on_health)
        self.bus.on_any_reading(self.devices.on_reading)
        for capability in self.capabilities:
            self.device_health.watch_all(capability.offline)
            for listener in capability.health_listeners:
                self.bus.on_health(listener)
            for workflow in capability.workflows:
                self.bus.add_workflow(workflow)
        self.bus.on_health(self.device_health.on_health)
        self.bus.add_workflow(self.device_health)
        self.components: list[Component] = [
            self.bus, StoreHousekeeping(self.config, self.store, self.recorder, self.now),
            ClockWatch(self.recorder, self.now, self.monotonic),
            StorageWatch(self.recorder.flush_storage_failure)]
        for capability in self.capabilities:
            self.components += capability.components
        self.components += update_trial  # last: it waits for every other component to run

    # --- what the capabilities made, by name (tests, the demo, the console) ----------------

    @property
    def uplink(self) -> Uplink:
        return self.uplink_capability.uplink

    @property
    def schedule_engine(self) -> ScheduleEngine:
        return self.schedule.engine

    @property
    def vision_workers(self) -> Mapping[str, CameraWorker]:
        return self.vision.workers

    @property
    def vision_live(self) -> LiveHub | None:
        return self.vision.live

    @property
    def video(self) -> VideoService | None:
        return self.video_capability.service

    # --- agent.view.AgentControl --------------------------------------------------------------

    @property
    def messages(self) -> Feedback:
        return self.feedback

    def component_states(self) -> Mapping[str, str]:
        return dict(self.supervisor.states)

    def clock_state(self) -> ClockState:
        return self.recorder.clock.state()

    def video_status(self) -> dict[str, Any] | None:
        service = self.video_capability.service
        return service.status() if service is not None else None

    def cameras(self) -> Mapping[str, CameraFeed]:
        return {camera_id: worker.source for camera_id, worker in self.vision.workers.items()}

    def restart_into_launcher(self, launcher: Path) -> None:
        """Stop in order, then ``canteen-agent run`` replaces this process through the
        launcher, which starts the release in force (agent.updater)."""
        self.restart_into = launcher
        self.request_reload()

    def request_reload(self) -> None:
        """Stop in order; ``run_forever`` returns and the caller starts a fresh agent."""
        log.info("reload requested")
        self.reload_requested = True
        self.supervisor.stop_event.set()

    # --- life cycle -----------------------------------------------------------------------------

    def _uplink_connected(self) -> bool | None:
        return self._uplink.connected.is_set() if self._uplink is not None else None

    def _publish_live(self, suffix: str, payload: bytes) -> bool:
        return self._uplink.publish_live(suffix, payload) if self._uplink is not None else False

    def _sync_roster_from_config(self) -> None:
        """Staff listed in the config seed the roster on the first start only: from then on
        the store is the one source of truth (the data administrator's console, the
        platform's ``sync_roster`` / ``sync_basic_data``), docs/PLATFORM.md §basic data."""
        if not self.config.site.staff or self.store.kv_get("roster_from_platform", False):
            return
        if self.store.kv_get(ROSTER_SEEDED):
            return
        self.store.replace_roster([s.model_dump() for s in self.config.site.staff], self.now().isoformat())
        self.store.kv_set(ROSTER_SEEDED, self.now().isoformat())

    def start(self) -> None:
        self.lock.acquire()  # AgentAlreadyRunning: another agent runs on this store
        for component in self.components:
            self.supervisor.start(component)
        log.info("agent started agent_id=%s components=%s", self.config.identity.agent_id,
                 ",".join(c.name for c in self.components))

    def stop(self) -> None:
        self.supervisor.stop()
        self.store.close()
        self.lock.release()
        log.info("agent stopped")

    def run_forever(self) -> None:
        """Start, serve until SIGTERM/SIGINT, stop in order."""
        from agent.ops.liveness import (
            Liveness,  # a wedged dispatcher or store writer stops the pings
        )

        loop = MainLoop(self.supervisor)
        loop.liveness = Liveness(self.bus, self.store, stall_s=max(5.0, 2 * loop.interval_s),
                                 loops=[self.uplink])  # a deaf uplink is a stall too
        loop.install_signal_handlers()
        self.start()
        try:
            loop.run()
        finally:
            self.stop()


class StoreHousekeeping:
    """Retention and disk budget every few minutes; an alarm while the budget bites."""

    name = "store-housekeeping"

    def __init__(self, config: AgentConfig, store: Store, recorder: Recorder, now: Callable[[], datetime],
                 every_s: float = 300) -> None:
        self.config = config.store
        self.store = store
        self.recorder = recorder
        self.now = now
        self.every_s = every_s

    def run(self, stop: threading.Event) -> None:
        """Retention every ``every_s``; deferred telemetry written once due (checked every 10 s)."""
        last: float | None = None
        while not stop.is_set():
            if last is None or time.monotonic() - last >= self.every_s:
                self.once()
                last = time.monotonic()
            self.store.flush_deferred_if_due()
            stop.wait(min(self.every_s, 10.0))

    def once(self) -> None:
        cfg = self.config
        now = self.now()
        apply_retention(self.store, now, cfg.retention_days, cfg.telemetry_keep_days)
        report = enforce_budget(self.store, int(cfg.disk_budget_mb * 1024 * 1024), now, cfg.retention_days)
        subject = {"device_id": "store"}
        if report.pressure:
            self.recorder.raise_alarm(
                "disk_budget", subject, f"存储空间已用 {report.used_before / 1e6:.0f} MB，正在清理旧照片视频 / "
                f"disk budget reached: {report.used_before / 1e6:.0f} MB used, old media evicted",
                severity="major", details={"media_evicted": report.media_evicted,
                                           "telemetry_deleted": report.telemetry_deleted,
                                           "records_deleted": report.records_deleted,
                                           "still_over": report.over_budget})
        else:
            self.recorder.clear_alarm("disk_budget", subject, "存储空间已恢复 / disk use back under budget")
