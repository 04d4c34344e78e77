"""Which local days the agent actually ran, on the corrected clock (kv ``schedule:days_ran``).

The ledger is written for these days only. A day the agent was off has no ledger (its
duties are unknown, not undone), and a day the agent only *believed* it ran on (a Pi
without RTC booting weeks behind or days ahead, until NTP steps the clock) must not get
one either.

Every tick notes the days this process has covered, from its first tick to ``now``, with
its start placed on the current clock by the monotonic clock: ``now - (mono - start_mono)``.
A wall clock step (the wall moved by more than ``STEP_S`` against the monotonic clock
since the last tick) thus moves the whole span: the days this process noted under the
wrong clock are taken back, the real ones put in. Days noted by earlier processes stay
(a step between two runs cannot be seen; their records carry ``clock.synced=false``).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from agent.core.timeutil import Monotonic
from agent.store import Store

log = logging.getLogger("agent.schedule")

DAYS_RAN_KEY = "schedule:days_ran"
STEP_S = 120.0  # wall vs monotonic drift beyond this between two ticks is a clock step
KEEP_DAYS = 60  # the ledger looks back 7 days; keep a little history for diagnostics


class RunDays:
    """The durable list of days run, kept true across clock steps (one engine, one thread)."""

    def __init__(self, store: Store, tz: ZoneInfo, mono: Monotonic) -> None:
        self.store = store
        self.tz = tz
        self.mono = mono
        self._start_mono: float | None = None
        self._last: tuple[datetime, float] | None = None
        self._noted: set[date] = set()  # the days this process put in the list

    def observe(self, now: datetime, seed: date | None = None) -> float | None:
        """Note that the agent runs at ``now``; the clock step since the last tick (s), if any.

        ``seed``: a day known to have been run before this list existed (the last tick of
        an older version), added once.
        """
        mono = self.mono()
        step = self._step(now, mono)
        self._last = (now, mono)
        if self._start_mono is None:
            self._start_mono = mono
        started = now - timedelta(seconds=mono - self._start_mono)
        mine = _days(started.astimezone(self.tz).date(), now.astimezone(self.tz).date())
        saved = self.store.kv_get(DAYS_RAN_KEY)
        days = {date.fromisoformat(d) for d in saved} if saved is not None else ({seed} if seed else set())
        before = set(days)
        if step is not None:
            wrong = self._noted - mine
            days -= wrong
            log.warning("clock stepped step_s=%+.0f days_taken_back=%s", step,
                        ",".join(sorted(d.isoformat() for d in wrong)) or "-")
        days |= mine
        self._noted = mine
        oldest = now.astimezone(self.tz).date() - timedelta(days=KEEP_DAYS)
        days = {d for d in days if d >= oldest}
        if days != before or saved is None:
            self.store.kv_set(DAYS_RAN_KEY, sorted(d.isoformat() for d in days))
        return step

    def days(self) -> list[date]:
        return [date.fromisoformat(d) for d in self.store.kv_get(DAYS_RAN_KEY, [])]

    def _step(self, now: datetime, mono: float) -> float | None:
        if self._last is None:
            return None
        last_now, last_mono = self._last
        drift = (now - last_now).total_seconds() - (mono - last_mono)
        return drift if abs(drift) >= STEP_S else None


def _days(first: date, last: date) -> set[date]:
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}
