"""Sliding-window limits with bounded memory: a flood from many addresses cannot grow them."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

MAX_KEYS = 20_000


class Window:
    """At most ``limit`` events per key within ``window_s``; ``take`` counts one if allowed."""

    def __init__(self, limit: int, window_s: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self._monotonic = monotonic
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> bool:
        now = self._monotonic()
        with self._lock:
            times = self._recent(key, now)
            if len(times) >= self.limit:
                return False
            times.append(now)
            return True

    def full(self, key: str) -> bool:
        now = self._monotonic()
        with self._lock:
            return len(self._recent(key, now)) >= self.limit

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._events.get(key)
        if times is None:
            if len(self._events) >= MAX_KEYS:
                self._events.popitem(last=False)  # the least recently used address goes
            times = self._events[key] = deque()
        else:
            self._events.move_to_end(key)
        while times and now - times[0] > self.window_s:
            times.popleft()
        return times


class LogGate:
    """At most one log line per key every ``every_s``: a flood is counted, not written out line by line."""

    def __init__(self, every_s: float = 10.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.every_s = every_s
        self._monotonic = monotonic
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def open(self, key: str) -> bool:
        now = self._monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.every_s:
                return False
            self._last[key] = now
            return True
