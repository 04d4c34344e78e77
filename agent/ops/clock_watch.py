"""The clock's trust, watched: an alarm while it is unsynchronised, the step measured when it syncs.

A Pi has no RTC. It boots with whatever time it had (the last shutdown, or 1970) and NTP
steps the clock when it first reaches a server, minutes or days later. Records made in
between are marked ``clock.synced=false`` by the Recorder (``ClockMonitor``). This watch
makes them correctable:

- while the clock is not trusted, alarm ``clock_unsynced`` (subject ``{"device_id":
  "clock"}``) is open, raised once;
- the wall-minus-monotonic offset is noted when the untrusted stretch is first seen; when
  the clock becomes trusted the change of that offset is the step NTP applied. The alarm
  is cleared with ``details``: ``step_s`` (add it to the times of this agent's records with
  ``clock.synced=false`` stamped between ``unsynced_from`` and ``unsynced_until``, both as
  they were stamped), ``unsynced_from``, ``unsynced_until``, ``synced_at``. A step is only
  measurable within one boot: after a reboot while unsynced ``step_s`` covers the records
  of this boot, earlier ones keep their mark.

A step while the clock is trusted (a manual ``date -s``, a large NTP correction) is
logged with its size; durations never depend on it (they run on the monotonic clock).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from agent.core.recorder import Recorder
from agent.core.timeutil import Monotonic, Now, rfc3339

log = logging.getLogger("agent.clock_watch")

ALARM = "clock_unsynced"
SUBJECT = {"device_id": "clock"}


class ClockWatch:
    """A supervised component: checks the clock every ``every_s`` (``once`` in tests)."""

    name = "clock-watch"

    def __init__(self, recorder: Recorder, now: Now, mono: Monotonic, *, every_s: float = 60.0,
                 step_threshold_s: float = 2.0) -> None:
        self.recorder = recorder
        self.now = now
        self.mono = mono
        self.every_s = every_s
        self.step_threshold_s = step_threshold_s
        self._offset: float | None = None  # wall minus monotonic at the last check
        self._unsynced_offset: float | None = None  # ... when the untrusted stretch was first seen
        self._unsynced_from: datetime | None = None
        self._unsynced_until: datetime | None = None

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.once()
            stop.wait(self.every_s)

    def once(self) -> None:
        state = self.recorder.clock.state()
        at = self.now()
        offset = at.timestamp() - self.mono()
        if self._offset is not None and abs(offset - self._offset) >= self.step_threshold_s:
            log.warning("clock stepped step_s=%+.1f synced=%s", offset - self._offset, state.synced)
        self._offset = offset
        if not state.synced:
            self._untrusted(at, offset, state.source)
        else:
            self._trusted(at, offset)

    def _untrusted(self, at: datetime, offset: float, source: str) -> None:
        if self._unsynced_offset is None:
            self._unsynced_offset, self._unsynced_from = offset, at
        self._unsynced_until = at
        self.recorder.raise_alarm(
            ALARM, SUBJECT, "时钟未同步，记录时间待校正 / clock not synchronised: record times may be wrong",
            severity="minor", occurred_at=at, details={"source": source})

    def _trusted(self, at: datetime, offset: float) -> None:
        # clear_alarm is a no-op without an open alarm (also one left by the previous run)
        step = None if self._unsynced_offset is None else round(offset - self._unsynced_offset, 3)
        details: dict[str, object] = {"step_s": step, "synced_at": rfc3339(at),
                                      "unsynced_from": _text(self._unsynced_from),
                                      "unsynced_until": _text(self._unsynced_until)}
        told = "unknown" if step is None else f"{step:+.1f} s"
        if self.recorder.clear_alarm(ALARM, SUBJECT, f"时钟已同步，校正 {told} / clock synchronised, stepped {told}",
                                     occurred_at=at, details=details):
            log.info("clock synchronised step_s=%s", step)
        self._unsynced_offset = self._unsynced_from = self._unsynced_until = None


def _text(at: datetime | None) -> str | None:
    return None if at is None else rfc3339(at)
