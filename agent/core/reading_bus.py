"""The reading bus: drivers publish readings, one dispatcher thread hands them to workflows.

Readings flow one way: drivers publish them on the ``ReadingBus`` (their reading and
health sinks); one dispatcher thread hands each to the workflows that want it
(workflows keep their own state and need no locks) and ticks them once a second. A
failing workflow is logged and skipped; the others carry on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from drivers.readings import DeviceHealth, Reading

log = logging.getLogger("agent.runtime")


class Workflow(Protocol):
    """A duty from the rules: consumes readings, produces records and alarms."""

    name: str

    def wants(self, reading: Reading) -> bool: ...

    def on_reading(self, reading: Reading) -> None: ...

    def tick(self, now: datetime) -> None: ...



class ReadingBus:
    """Thread-safe hand-off from drivers to workflows, in arrival order."""

    def __init__(self, now: Callable[[], datetime], tick_s: float = 1.0) -> None:
        self._queue: queue.SimpleQueue[Reading | DeviceHealth] = queue.SimpleQueue()
        self._workflows: list[Workflow] = []
        self._health_listeners: list[Callable[[DeviceHealth], None]] = []
        self._reading_listeners: list[Callable[[Reading], None]] = []
        self._now = now
        self._tick_s = tick_s
        self.name = "reading-bus"
        self.dispatched = 0
        self.failures = 0

    def add_workflow(self, workflow: Workflow) -> None:
        self._workflows.append(workflow)

    def on_health(self, listener: Callable[[DeviceHealth], None]) -> None:
        self._health_listeners.append(listener)

    def on_any_reading(self, listener: Callable[[Reading], None]) -> None:
        """Observe every reading (status, diagnostics) without being a workflow."""
        self._reading_listeners.append(listener)

    def publish(self, reading: Reading) -> None:
        """The ``ReadingSink`` drivers are given."""
        self._queue.put(reading)

    def publish_health(self, health: DeviceHealth) -> None:
        """The ``HealthSink`` drivers are given."""
        self._queue.put(health)

    def run(self, stop: threading.Event) -> None:
        next_tick = time.monotonic()
        while not stop.is_set():
            try:
                item = self._queue.get(timeout=max(0.0, next_tick - time.monotonic()))
            except queue.Empty:
                item = None
            if item is not None:
                self.dispatch(item)
            if time.monotonic() >= next_tick:
                self.tick(self._now())
                next_tick = time.monotonic() + self._tick_s

    def dispatch(self, item: Reading | DeviceHealth) -> None:
        if isinstance(item, DeviceHealth):
            for listener in self._health_listeners:
                self._guard(listener.__qualname__, listener, item)
            return
        for on_reading in self._reading_listeners:
            self._guard(on_reading.__qualname__, on_reading, item)
        for workflow in self._workflows:
            if workflow.wants(item):
                self._guard(workflow.name, workflow.on_reading, item)
        self.dispatched += 1

    def tick(self, now: datetime) -> None:
        for workflow in self._workflows:
            self._guard(workflow.name, workflow.tick, now)

    def drain(self) -> int:
        """Dispatch everything queued now (tests and scenario drivers)."""
        count = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return count
            self.dispatch(item)
            count += 1

    def _guard(self, name: str, fn: Callable[[Any], object], arg: object) -> None:
        """A failing workflow is logged and skipped; the others carry on."""
        try:
            fn(arg)
        except Exception:
            self.failures += 1
            log.exception("workflow failed name=%s", name)
