"""Time for records: aware local times, the clock's trust state, and UUIDv7 ids.

Records carry RFC 3339 times with the canteen's offset (+08:00 for Asia/Shanghai)
and say whether the clock was trusted when they were made (PLATFORM.md).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

Now = Callable[[], datetime]


def local_now(tz: ZoneInfo) -> datetime:
    return datetime.now(tz)


def make_now(tz: ZoneInfo) -> Now:
    """A ``now`` callable in the given zone (inject a fake one in tests)."""
    return lambda: datetime.now(tz)


def rfc3339(at: datetime) -> str:
    """Millisecond RFC 3339 with the offset, e.g. 2026-11-30T07:31:05.120+08:00."""
    if at.tzinfo is None:
        raise ValueError("naive datetime: records need an aware time")
    return at.isoformat(timespec="milliseconds")


Monotonic = Callable[[], float]


class ManualClock:
    """A controllable clock for tests and accelerated scenarios: wall time and monotonic time.

    ``advance`` moves both (time passes); ``set`` and ``step`` move the wall clock only,
    as NTP stepping a Pi's clock after boot does. Durations and timeouts are measured
    on ``monotonic`` (pass it next to ``now``), so a step never changes them.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware start time")
        self._now = start
        self._elapsed_s = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """Seconds that passed since the clock was made (never moved by ``set`` or ``step``)."""
        with self._lock:
            return self._elapsed_s

    def advance(self, delta: timedelta | float) -> datetime:
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        with self._lock:
            self._now += delta
            self._elapsed_s += delta.total_seconds()
            return self._now

    def step(self, delta: timedelta | float) -> datetime:
        """The wall clock jumps by ``delta``; no time passes."""
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        with self._lock:
            self._now += delta
            return self._now

    def set(self, at: datetime) -> None:
        with self._lock:
            self._now = at


_uuid7_lock = threading.Lock()
_uuid7_last_ms = 0
_uuid7_counter = 0


def uuid7() -> str:
    """A UUID version 7 (RFC 9562): 48-bit Unix ms time, then a counter and randomness.

    Monotonic within this process even when several ids share a millisecond, so ids
    sort in creation order.
    """
    global _uuid7_last_ms, _uuid7_counter
    with _uuid7_lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _uuid7_last_ms:
            ms = _uuid7_last_ms
            _uuid7_counter += 1
            if _uuid7_counter > 0xFFF:  # 12-bit counter exhausted: borrow the next ms
                ms += 1
                _uuid7_counter = 0
        else:
            _uuid7_counter = secrets.randbits(8)  # random start leaves room to count up
        _uuid7_last_ms = ms
        counter = _uuid7_counter
    rand_b = secrets.randbits(62)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= rand_b
    return str(uuid.UUID(int=value))


def clock_synced() -> tuple[bool, str]:
    """Whether the system clock is trusted, and by what (ntp / rtc / none).

    Uses systemd-timedated's view when available; otherwise the kernel's
    adjtimex "unsynchronised" flag via the presence of a sync marker file.
    Cheap enough to call once a minute, not per record.
    """
    override = os.environ.get("CANTEEN_CLOCK_SYNCED")
    if override is not None:  # for simulators and tests: declare the clock state
        return override.lower() in ("1", "true", "yes"), "declared"
    try:
        out = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True, text=True, timeout=2,
        )
        if out.returncode == 0 and out.stdout.strip() in ("yes", "no"):
            return out.stdout.strip() == "yes", "ntp"
    except (OSError, subprocess.SubprocessError):
        pass
    if os.path.exists("/run/systemd/timesync/synchronized"):
        return True, "ntp"
    return False, "none"
