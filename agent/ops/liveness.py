"""What the main loop checks before each watchdog ping: are the agent's vital threads moving?

A stuck driver is the supervisor's business (it restarts components); what only
systemd can fix is a process whose core is wedged: the reading-bus dispatcher (every
reading and every duty goes through it), the store's single writer thread (nothing
is saved without it) or the uplink's loop (nothing reaches the platform, no command is
answered without it). Each is probed without blocking the main loop:

- the dispatcher ticks every workflow once a second, so a workflow that wants no
  readings and only notes the time of its tick shows the loop turning;
- the writer gets an empty write op; while one is outstanding longer than the limit,
  the writer is stuck (an empty op commits nothing, so the probe costs no disk I/O);
- the uplink notes each turn of its loop (waiting out a reconnect back-off counts as
  turning); a loop wedged in a handler, or dead and waiting for the supervisor's
  restart, stops turning. One connect may block for a while (name resolution, TCP
  and TLS timeouts), so its limit is ``stall_s`` plus the uplink's own allowance.

When any of them stalls past its limit the check fails, the pings stop, and systemd
restarts the agent after WatchdogSec.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from agent.core.reading_bus import ReadingBus
from agent.store import Pending, Store
from drivers.readings import Reading

log = logging.getLogger("agent.liveness")


class DispatcherHeartbeat:
    """A workflow that wants nothing: its ``tick`` proves the dispatcher loop turns."""

    name = "liveness-heartbeat"

    def __init__(self) -> None:
        self.last_tick = time.monotonic()

    def wants(self, reading: Reading) -> bool:
        return False

    def on_reading(self, reading: Reading) -> None:  # never called: wants() is False
        return None

    def tick(self, now: datetime) -> None:
        self.last_tick = time.monotonic()


class WriterProbe:
    """Keeps at most one empty write op in the store writer's queue and times it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: Pending[Any] | None = None
        self._since = 0.0

    def stalled_for(self) -> float:
        """Seconds the outstanding probe has waited (0 when the writer keeps up)."""
        now = time.monotonic()
        if self._pending is not None and not self._pending.done():
            return now - self._since
        self._pending = self.store.writer.submit(lambda conn: None)
        self._since = now
        return 0.0


class LoopBeat(Protocol):
    """A component loop that notes when it last turned (the uplink)."""

    name: str
    stall_allowance_s: float  # how long one step may legitimately block (a connect)

    def stalled_for(self) -> float: ...


class Liveness:
    """The ``liveness`` callable of ``MainLoop``: False while the core is stalled."""

    def __init__(self, bus: ReadingBus, store: Store, stall_s: float,
                 loops: Sequence[LoopBeat] = ()) -> None:
        self.stall_s = stall_s
        self.heartbeat = DispatcherHeartbeat()
        bus.add_workflow(self.heartbeat)
        self.writer = WriterProbe(store)
        self.loops = list(loops)

    def __call__(self) -> bool:
        alive = True
        dispatcher_idle = time.monotonic() - self.heartbeat.last_tick
        if dispatcher_idle > self.stall_s:
            log.error("liveness: reading-bus dispatcher stalled idle_s=%.0f", dispatcher_idle)
            alive = False
        try:
            writer_wait = self.writer.stalled_for()
        except RuntimeError as exc:  # the store is closed: we are stopping anyway
            log.warning("liveness: store writer probe failed: %s", exc)
            return False
        if writer_wait > self.stall_s:
            log.error("liveness: store writer stalled wait_s=%.0f", writer_wait)
            alive = False
        for loop in self.loops:
            idle = loop.stalled_for()
            if idle > self.stall_s + loop.stall_allowance_s:
                log.error("liveness: %s loop stalled idle_s=%.0f", loop.name, idle)
                alive = False
        return alive
