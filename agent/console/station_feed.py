"""Live station state for the screens: a feedback output that keeps, per station, only
what its screen shows now, and pushes each change to the screens watching it.

A screen holds no history: each message replaces the station's state, and a verdict or
a notice goes back to "waiting for a badge" after ``hold_s`` so the next person does not
see the previous one's name or temperature. Workflows call ``show`` on the dispatcher
thread; screens listen on the server's event loop, so a change is handed over with
``call_soon_threadsafe`` (``show`` never blocks the workflow).

The state also carries the health of the station's devices (``on_health``, a listener on
the reading bus: the drivers' own health, the same the device registry keeps). A station
whose required device is down is not ``ready``: its screen says 设备离线，请告知主管 in
the colour of a fault instead of asking for a badge nobody can take.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from agent.core.feedback import Message
from agent.stations.registry import ROLE_WORDS
from agent.words.terms import device_state, down_reason
from drivers.readings import DeviceHealth, DeviceState

LEVEL_VERDICT = {"ok": "pass", "warn": "warn", "error": "fail"}
NOT_YET = "starting"  # a device that has not reported yet: the station is connecting


@dataclass(frozen=True, slots=True)
class DeviceLine:
    """One device of a station, as its screen shows it."""

    id: str
    role: str  # badge | thermometer | scale | keypad | barcode
    required: bool
    state: str = NOT_YET  # drivers.readings.DeviceState
    reason: str = ""  # drivers.readings.DownReason

    @property
    def ok(self) -> bool:
        return self.state == DeviceState.OK

    def as_json(self) -> dict[str, Any]:
        role, state = ROLE_WORDS.get(self.role), device_state(self.state)
        words = down_reason(self.reason) if self.reason and not self.ok else state
        return {"id": self.id, "role": self.role, "required": self.required, "state": self.state, "ok": self.ok,
                "reason": self.reason or None,
                "zh": f"{role.zh if role else self.role} {self.id}：{words.zh}",
                "en": f"{role.en if role else self.role} {self.id}: {words.en}"}


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
    devices: tuple[DeviceLine, ...] = field(default=())

    @property
    def ready(self) -> bool:
        """Every required device works: the station can take a check now."""
        return all(d.ok for d in self.devices if d.required)

    @property
    def connecting(self) -> bool:
        return any(d.state == NOT_YET for d in self.devices if d.required)

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "phase": self.phase, "text": self.text, "level": self.level,
                "name": self.name, "reading": self.reading, "verdict": self.verdict,
                "next_step": self.next_step, "at": self.at, "hold_s": self.hold_s,
                "ready": self.ready, "connecting": self.connecting,
                "devices": [d.as_json() for d in self.devices]}


def state_of(message: Message, seq: int, hold_s: float) -> StationState:
    """What a screen shows for one feedback message (structured when the workflow sent a
    ``Screen``; otherwise the text coloured by its level, for ``hold_s`` like a verdict)."""
    at = f"{message.at:%H:%M:%S}"
    screen = message.screen
    if screen is None:
        verdict = LEVEL_VERDICT.get(message.level)
        return StationState(seq, "notice", message.text, message.level, verdict=verdict, at=at, hold_s=hold_s)
    hold = hold_s if screen.phase == "verdict" else 0.0
    return StationState(seq, screen.phase, message.text, message.level, screen.name, screen.reading,
                        screen.verdict, screen.next_step, at, hold)


@dataclass
class _Watcher:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[StationState] = field(default_factory=asyncio.Queue)


class StationFeed:
    """``show(message)`` from the workflows, ``on_health`` from the drivers;
    ``current`` / ``watch`` for the screens."""

    name = "station-screens"

    def __init__(self, station_ids: list[str], hold_s: float = 20.0,
                 devices: dict[str, Iterable[tuple[str, str, bool]]] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        """``devices``: station id -> (role, device id, required) of its devices
        (``StationConfig.devices_needed``); ``monotonic``: injected, tests move it instead of
        sleeping."""
        self._monotonic = monotonic
        self.station_ids = list(station_ids)
        self.hold_s = hold_s
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._states: dict[str, tuple[StationState, float]] = {}
        self._watchers: dict[str, list[_Watcher]] = {s: [] for s in self.station_ids}
        self._devices: dict[str, tuple[DeviceLine, ...]] = {
            s: tuple(DeviceLine(device_id, role, required) for role, device_id, required in (devices or {}).get(s, ()))
            for s in self.station_ids}

    def show(self, message: Message) -> None:
        station = message.station
        if station not in self._watchers:
            return  # reminders (station "schedule") and unknown stations have no screen
        with self._lock:
            state = replace(state_of(message, next(self._seq), self.hold_s), devices=self._devices[station])
            self._states[station] = (state, self._monotonic())
        self._push(station, state)

    def on_health(self, health: DeviceHealth) -> None:
        """A device changed state: the screens of the stations it serves change with it."""
        changed: list[tuple[str, StationState]] = []
        with self._lock:
            for station, lines in self._devices.items():
                if not any(d.id == health.device_id for d in lines):
                    continue
                updated = tuple(replace(d, state=str(health.state), reason=health.reason)
                                if d.id == health.device_id else d for d in lines)
                if updated == lines:
                    continue
                self._devices[station] = updated
                entry = self._states.get(station)
                state = replace(self._current(station), seq=next(self._seq), devices=updated)
                # a verdict on the screen keeps its own hold time
                self._states[station] = (state, entry[1] if entry is not None else self._monotonic())
                changed.append((station, state))
        for station, state in changed:
            self._push(station, state)

    def _push(self, station: str, state: StationState) -> None:
        with self._lock:
            watchers = list(self._watchers[station])
        for watcher in watchers:
            try:
                watcher.loop.call_soon_threadsafe(watcher.queue.put_nowait, state)
            except RuntimeError:  # that screen's loop has closed: it is going away
                pass

    def current(self, station: str) -> StationState:
        """The station's state now; a verdict or notice past its hold time is "waiting" again."""
        with self._lock:
            return self._current(station)

    def _current(self, station: str) -> StationState:
        entry = self._states.get(station)
        if entry is None:
            return StationState(0, "waiting", devices=self._devices.get(station, ()))
        state, since = entry
        if state.hold_s and self._monotonic() - since > state.hold_s:
            return StationState(state.seq, "waiting", devices=state.devices)
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
