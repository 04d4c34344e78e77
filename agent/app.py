"""The agent assembled from its config: store, recorder, reading bus, components.

``Agent`` is what ``canteen-agent run`` starts; tests and the demo build it too.
Each capability adds its components in ``_build`` from what the config declares.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from agent.clock_watch import ClockWatch
from agent.config import AgentConfig
from agent.device_registry import DeviceRegistry
from agent.recorder import ClockMonitor, Recorder
from agent.runtime import Component, MainLoop, ReadingBus, Supervisor
from agent.storage_alarm import StorageWatch
from agent.store import Store
from agent.store.budget import apply_retention, enforce_budget
from agent.timeutil import Mono, make_now, mono_beside
from agent.uplink.commands import Handler
from agent.uplink.handlers import core_handlers
from agent.version import agent_version
from agent.wiring import capability_modules

log = logging.getLogger("agent.app")


class Agent:
    def __init__(self, config: AgentConfig, *, now: Callable[[], datetime] | None = None,
                 mono: Mono | None = None, clock: ClockMonitor | None = None,
                 config_path: Path | None = None) -> None:
        self.config = config
        self.config_path = Path(config_path) if config_path else None
        self.version = agent_version()
        self.mono = mono_beside(now, mono)  # durations and timeouts; wall time is for timestamps
        self.now = now or make_now(config.identity.tz)
        self.reload_requested = False
        self.store = Store(config.store.path, config.store.media_dir,
                           group_commit_max=config.store.group_commit_max)
        self.recorder = Recorder(config, self.store, self.now, clock)
        self.bus = ReadingBus(self.now)
        self.devices = DeviceRegistry()
        self.bus.on_health(self.devices.on_health)
        self.bus.on_any_reading(self.devices.on_reading)
        self.supervisor = Supervisor()
        # Platform commands by name; capabilities add theirs (vision: snapshot, live).
        self.command_handlers: dict[str, Handler] = core_handlers(self)
        self.components: list[Component] = [self.bus, StoreHousekeeping(self),
                                            ClockWatch(self.recorder, self.now, self.mono),
                                            StorageWatch(self.recorder.flush_storage_failure)]
        self._sync_roster_from_config()
        for capability in capability_modules():
            self.components += capability.build(self)

    def _sync_roster_from_config(self) -> None:
        """Staff listed in the config seed the roster until the platform sends one."""
        if self.config.site.staff and not self.store.kv_get("roster_from_platform", False):
            self.store.replace_roster([s.model_dump() for s in self.config.site.staff],
                                      self.now().isoformat())

    def start(self) -> None:
        for component in self.components:
            self.supervisor.start(component)
        log.info("agent started agent_id=%s components=%s", self.config.identity.agent_id,
                 ",".join(c.name for c in self.components))

    def request_reload(self) -> None:
        """Stop in order; ``run_forever`` returns and the caller starts a fresh agent."""
        log.info("reload requested")
        self.reload_requested = True
        self.supervisor.stop_event.set()

    def stop(self) -> None:
        self.supervisor.stop()
        self.store.close()
        log.info("agent stopped")

    def run_forever(self) -> None:
        """Start, serve until SIGTERM/SIGINT, stop in order."""
        loop = MainLoop(self.supervisor)
        from agent.liveness import Liveness  # a wedged dispatcher or store writer stops the pings

        loop.liveness = Liveness(self.bus, self.store, stall_s=max(5.0, 2 * loop.interval_s))
        loop.install_signal_handlers()
        self.start()
        try:
            loop.run()
        finally:
            self.stop()


class StoreHousekeeping:
    """Retention and disk budget every few minutes; an alarm while the budget bites."""

    name = "store-housekeeping"

    def __init__(self, agent: Agent, every_s: float = 300) -> None:
        self.agent = agent
        self.every_s = every_s

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.once()
            stop.wait(self.every_s)

    def once(self) -> None:
        cfg = self.agent.config.store
        now = self.agent.now()
        apply_retention(self.agent.store, now, cfg.retention_days, cfg.telemetry_keep_days)
        report = enforce_budget(self.agent.store, int(cfg.disk_budget_mb * 1024 * 1024), now,
                                cfg.retention_days)
        subject = {"device_id": "store"}
        if report.pressure:
            self.agent.recorder.raise_alarm(
                "disk_budget", subject, f"disk budget reached: {report.used_before} bytes used",
                severity="major", details={"media_evicted": report.media_evicted,
                                           "telemetry_deleted": report.telemetry_deleted,
                                           "records_deleted": report.records_deleted,
                                           "still_over": report.over_budget})
        else:
            self.agent.recorder.clear_alarm("disk_budget", subject, "disk use back under budget")
