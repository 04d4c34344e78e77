"""The runtime: supervised components and the main loop.

Each component runs in its own thread under a supervisor that restarts it with
back-off when it fails, so a crashed driver, camera or vision pipeline never stops
the others or the uplink (the reading bus, ``agent.core.reading_bus``, is one of
them). The main loop feeds systemd's watchdog only while it is itself alive.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Protocol

from agent.ops.sdnotify import Notifier, watchdog_interval_s
from drivers.backoff import Backoff

log = logging.getLogger("agent.runtime")

# Set by SIGTERM/SIGINT for the whole process, so a stop that lands during a config
# reload (between two agents) is not lost.
TERMINATING = threading.Event()


class Component(Protocol):
    """Something the runtime supervises. ``run`` blocks until ``stop`` is set."""

    name: str

    def run(self, stop: threading.Event) -> None: ...


class ComponentDown(Exception):
    """A component cannot run for a reason it has put in words (a port taken by another
    program): logged as that one line, without a traceback, and retried with back-off."""


class Supervisor:
    """Runs components in threads; restarts a failed one with exponential back-off."""

    def __init__(self, min_backoff_s: float = 1.0, max_backoff_s: float = 60.0) -> None:
        self.stop_event = threading.Event()
        self._threads: dict[str, threading.Thread] = {}
        self._min = min_backoff_s
        self._max = max_backoff_s
        self.restarts: dict[str, int] = {}
        self.states: dict[str, str] = {}

    def start(self, component: Component) -> None:
        thread = threading.Thread(target=self._keep_running, args=(component,),
                                  name=f"comp-{component.name}", daemon=True)
        self._threads[component.name] = thread
        self.restarts[component.name] = 0
        thread.start()

    def _keep_running(self, component: Component) -> None:
        backoff = Backoff(self._min, self._max)
        failures = 0
        while not self.stop_event.is_set():
            started = time.monotonic()
            self.states[component.name] = "running"
            try:
                component.run(self.stop_event)
                if self.stop_event.is_set():
                    break
                log.error("component exited unexpectedly name=%s", component.name)
            except ComponentDown as exc:
                log.error("component down name=%s reason=%s (retrying)", component.name, exc)
            except Exception:
                log.exception("component failed name=%s", component.name)
            self.states[component.name] = "restarting"
            self.restarts[component.name] += 1
            if time.monotonic() - started > 60:  # it ran a good while: start back-off afresh
                failures = 0
            self.stop_event.wait(backoff.delay(failures))
            failures += 1
        self.states[component.name] = "stopped"

    def stop(self, timeout_s: float = 10.0) -> None:
        self.stop_event.set()
        deadline = time.monotonic() + timeout_s
        for name, thread in self._threads.items():
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("component did not stop in time name=%s", name)


class MainLoop:
    """Waits for SIGTERM/SIGINT; feeds the watchdog while its own checks pass."""

    def __init__(self, supervisor: Supervisor, notifier: Notifier | None = None,
                 liveness: Callable[[], bool] | None = None, interval_s: float | None = None) -> None:
        self.supervisor = supervisor
        self.notifier = notifier or Notifier()
        self.liveness = liveness or (lambda: True)
        self.interval_s = interval_s or watchdog_interval_s() or 5.0
        self.pings = 0

    def install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: object) -> None:
            log.info("signal received signum=%d: stopping", signum)
            TERMINATING.set()
            self.supervisor.stop_event.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run(self, on_beat: Callable[[], None] | None = None) -> None:
        if TERMINATING.is_set():
            self.supervisor.stop_event.set()
        self.notifier.ready("running")
        while not self.supervisor.stop_event.wait(self.interval_s):
            if on_beat is not None:
                on_beat()  # a hang in here stops the pings: systemd restarts us
            if self.liveness():
                self.notifier.watchdog()
                self.pings += 1
            else:
                log.error("liveness check failed: withholding the watchdog ping")
        self.notifier.stopping()
