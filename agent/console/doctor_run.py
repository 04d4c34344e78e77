"""The doctor's checklist run from the installer's page, beside the running agent.

The doctor blocks (a broker CONNECT, hashing the models), so it runs in a thread of its
own, one run at a time, never on the console's event loop; the page waits for it a
bounded time and then shows whatever is known. It runs only the checks that are safe
next to a running agent (``DoctorOptions.live_devices``: ports looked at, Modbus
devices and cameras shown as the agent sees them, the broker reached over TCP and TLS
with the agent's own MQTT session as the last row), and only when asked.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.config_file.model import AgentConfig
from agent.ops.doctor.checks import Check, DoctorOptions
from agent.ops.doctor.run import run_checks

log = logging.getLogger("agent.console")
BROKER_TIMEOUT_S = 5.0
WAIT_S = 20.0  # how long a press of the button waits for the rows before the page shows "running"
POLL_S = 0.1


@dataclass(frozen=True)
class DoctorRun:
    started_at: datetime
    by: str
    finished_at: datetime | None = None
    checks: tuple[Check, ...] = ()

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(1 for c in self.checks if c.status == s) for s in ("OK", "WARN", "FAIL")}


class DoctorRunner:
    """Runs the doctor in a thread when asked and keeps the latest run."""

    def __init__(self, config: AgentConfig, config_path: Path | None,
                 devices: Callable[[], Mapping[str, Mapping[str, Any]]],
                 uplink_connected: Callable[[], bool | None], now: Callable[[], datetime],
                 gb28181: Callable[[], Mapping[str, Any] | None] = lambda: None) -> None:
        self.gb28181 = gb28181  # the running GB/T 28181 device's state (None: none)
        self.config = config
        self.config_path = config_path
        self.devices = devices
        self.uplink_connected = uplink_connected
        self.now = now
        self._lock = threading.Lock()
        self._latest: DoctorRun | None = None
        self._thread: threading.Thread | None = None

    @property
    def latest(self) -> DoctorRun | None:
        with self._lock:
            return self._latest

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def start(self, by: str) -> bool:
        """Start a run; False when one is still going (nothing new is started)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            run = DoctorRun(started_at=self.now(), by=by)
            self._latest = run
            self._thread = threading.Thread(target=self._run, args=(run,), name="console-doctor", daemon=True)
            self._thread.start()
            return True

    async def wait(self, timeout_s: float = WAIT_S) -> bool:
        """Wait (without blocking the event loop) until the run ends; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.running:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(POLL_S)
        return True

    def _run(self, run: DoctorRun) -> None:
        options = DoctorOptions(broker_timeout_s=BROKER_TIMEOUT_S, live_devices=self.devices(),
                                agent_connected=self.uplink_connected(), gb28181=self.gb28181())
        source: Path | AgentConfig = self.config_path if self.config_path is not None else self.config
        try:
            checks = run_checks(source, options)
        except Exception as exc:  # noqa: BLE001 - the page says so; the agent goes on
            log.warning("console doctor crashed error=%s", type(exc).__name__)
            checks = [Check("doctor", False, f"could not run: {type(exc).__name__}", "see the agent's log")]
        done = DoctorRun(started_at=run.started_at, by=run.by, finished_at=self.now(), checks=tuple(checks))
        with self._lock:
            if self._latest is run:
                self._latest = done
        failed = sum(1 for c in checks if c.status == "FAIL")
        log.info("console doctor done checks=%d fail=%d", len(checks), failed)
