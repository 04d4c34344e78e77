"""Live station state for the screens: a feedback output that keeps, per station, only
what its screen shows now, and pushes each change to the screens watching it.

A screen holds no history: each message replaces the station's state, and a verdict
goes back to "waiting for a badge" after ``hold_s`` so the next person does not see the
previous one's name or temperature. Workflows call ``show`` on the dispatcher thread;
screens listen on the server's event loop, so a change is handed over with
``call_soon_threadsafe`` (``show`` never blocks the workflow).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.core.feedback import Message

LEVEL_VERDICT = {"ok": "pass", "warn": "warn", "error": "fail"}


@dataclass(frozen=True, slots=True)
class StationState:
    """One station's screen: JSON for the page (``as_json``)."""

    seq: int  # increases with every change: the page (and the benchmark) knows what it painted
    phase: str  # waiting | identified | verdict | notice
    text: str = ""
    level: str = "info"
    name: str | None = None
    reading: str | None = None
    verdict: str | None = None
    next_step: str | None = None
    at: str | None = None  # local time of the message, HH:MM:SS
    hold_s: float = 0.0  # the page returns to waiting after this (0: stays)

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "phase": self.phase, "text": self.text, "level": self.level,
                "name": self.name, "reading": self.reading, "verdict": self.verdict,
                "next_step": self.next_step, "at": self.at, "hold_s": self.hold_s}


def state_of(message: Message, seq: int, hold_s: float) -> StationState:
    """What a screen shows for one feedback message (structured when the workflow sent a
    ``Screen``; otherwise the text coloured by its level)."""
    at = f"{message.at:%H:%M:%S}"
    screen = message.screen
    if screen is None:
        verdict = LEVEL_VERDICT.get(message.level)
        return StationState(seq, "notice", message.text, message.level, verdict=verdict, at=at,
                            hold_s=hold_s if verdict else 0.0)
    hold = hold_s if screen.phase == "verdict" else 0.0
    return StationState(seq, screen.phase, message.text, message.level, screen.name, screen.reading,
                        screen.verdict, screen.next_step, at, hold)


@dataclass
class _Watcher:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[StationState] = field(default_factory=asyncio.Queue)


class StationFeed:
    """``show(message)`` from the workflows; ``current`` / ``watch`` for the screens."""

    name = "station-screens"

    def __init__(self, station_ids: list[str], hold_s: float = 20.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.station_ids = list(station_ids)
        self.hold_s = hold_s
        self._monotonic = monotonic  # injected: tests move it instead of sleeping
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._states: dict[str, tuple[StationState, float]] = {}
        self._watchers: dict[str, list[_Watcher]] = {s: [] for s in self.station_ids}

    def show(self, message: Message) -> None:
        station = message.station
        if station not in self._watchers:
            return  # reminders (station "schedule") and unknown stations have no screen
        with self._lock:
            state = state_of(message, next(self._seq), self.hold_s)
            self._states[station] = (state, self._monotonic())
            watchers = list(self._watchers[station])
        for watcher in watchers:
            try:
                watcher.loop.call_soon_threadsafe(watcher.queue.put_nowait, state)
            except RuntimeError:  # that screen's loop has closed: it is going away
                pass

    def current(self, station: str) -> StationState:
        """The station's state now; a verdict past its hold time is "waiting" again."""
        with self._lock:
            entry = self._states.get(station)
            if entry is None:
                return StationState(0, "waiting")
            state, since = entry
            if state.hold_s and self._monotonic() - since > state.hold_s:
                return StationState(state.seq, "waiting")
            return state

    def watch(self, station: str) -> _Watcher:
        """A queue of the station's changes, for one screen on the running loop."""
        watcher = _Watcher(asyncio.get_running_loop())
        with self._lock:
            self._watchers[station].append(watcher)
        return watcher

    def unwatch(self, station: str, watcher: _Watcher) -> None:
        with self._lock:
            if watcher in self._watchers.get(station, []):
                self._watchers[station].remove(watcher)

    def watching(self, station: str) -> int:
        with self._lock:
            return len(self._watchers.get(station, []))
