"""Time for records: aware local times, the clock's trust state, and UUIDv7 ids.

Records carry RFC 3339 times with the canteen's offset (+08:00 for Asia/Shanghai)
and say whether the clock was trusted when they were made (docs/PLATFORM.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import secrets
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

Now = Callable[[], datetime]
Monotonic = Callable[[], float]
"""Monotonic seconds (``time.monotonic`` in production): durations and timeouts only.

Injected beside ``now`` wherever ``now`` is, so an accelerated or manual clock drives both.
"""


def mono_beside(now: Now | None, mono: Monotonic | None) -> Monotonic:
    """The monotonic clock to use with ``now``.

    A ``now`` injected without a ``mono`` (an old test or scenario driving one clock) gets
    its own seconds as the monotonic clock, so durations follow the clock it drives; in
    production (neither injected) it is ``time.monotonic``.
    """
    if mono is not None:
        return mono
    if now is None:
        return time.monotonic
    clock = now
    return lambda: clock().timestamp()


def local_now(tz: ZoneInfo) -> datetime:
    return datetime.now(tz)


def make_now(tz: ZoneInfo) -> Now:
    """A ``now`` callable in the given zone (inject a fake one in tests)."""
    return lambda: datetime.now(tz)


def local_day(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def rfc3339(at: datetime) -> str:
    """Millisecond RFC 3339 with the offset, e.g. 2026-11-30T07:31:05.120+08:00."""
    if at.tzinfo is None:
        raise ValueError("naive datetime: records need an aware time")
    return at.isoformat(timespec="milliseconds")


class ManualClock:
    """A controllable clock for tests and accelerated scenarios: wall time and monotonic.

    ``advance`` and ``set`` are time passing (both clocks move; ``set`` backwards moves
    the monotonic clock by nothing); ``step`` is the wall clock being corrected (NTP after
    boot, a manual ``date -s``): only wall time moves.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware start time")
        self._now = start
        self._mono = 1000.0  # seconds since an arbitrary boot, like time.monotonic
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, delta: timedelta | float) -> datetime:
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        with self._lock:
            self._now += delta
            self._mono += max(0.0, delta.total_seconds())
            return self._now

    def set(self, at: datetime) -> None:
        with self._lock:
            self._mono += max(0.0, (at - self._now).total_seconds())
            self._now = at

    def step(self, delta: timedelta | float) -> datetime:
        """Step the wall clock by ``delta`` (seconds or timedelta); no time passes."""
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        with self._lock:
            self._now += delta
            return self._now


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


TIME_ERROR = 5  # adjtimex(2): "clock not synchronized" (STA_UNSYNC set)


def kernel_clock_synced() -> bool | None:
    """The kernel's own flag (adjtimex read-only): None where it cannot be asked.

    NTP daemons (chrony, ntpd, systemd-timesyncd) clear STA_UNSYNC once they discipline
    the clock; until then, and on a box that never synchronised, the state is TIME_ERROR.
    ``timedatectl``'s NTPSynchronized is this same flag, without needing systemd or D-Bus.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        timex = ctypes.create_string_buffer(512)  # struct timex is ~208 bytes; modes=0: read only
        state = int(libc.adjtimex(timex))
    except (OSError, AttributeError):
        return None
    return None if state < 0 else state != TIME_ERROR


def rtc_set_system_clock() -> bool:
    """Whether a battery-backed RTC set the system clock at boot (a Pi has none)."""
    try:
        return Path("/sys/class/rtc/rtc0/hctosys").read_text().strip() == "1"
    except OSError:
        return False


def clock_synced() -> tuple[bool, str]:
    """Whether the system clock is trusted, and by what (ntp / rtc / none).

    The kernel's adjtimex state first (true on any Linux, with or without systemd), then
    systemd-timedated's view, then the timesyncd marker file; an RTC that set the clock
    at boot counts as trusted (docs/PLATFORM.md: "no NTP, no RTC" is untrusted).
    Cheap enough to call once a minute, not per record.
    """
    override = os.environ.get("CANTEEN_CLOCK_SYNCED")
    if override is not None:  # for simulators and tests: declare the clock state
        return override.lower() in ("1", "true", "yes"), "declared"
    kernel = kernel_clock_synced()
    if kernel is True:
        return True, "ntp"
    if kernel is False:
        return (True, "rtc") if rtc_set_system_clock() else (False, "none")
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
