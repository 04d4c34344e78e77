"""Simple physics of kitchen equipment, driven by a scenario clock that can be accelerated.

Every model is a pure function of scenario time (seconds since scenario start), so a
test can jump the clock forward and read a consistent state without integrating steps.
``values(t)`` returns engineering values keyed by profile point names.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class ScenarioClock:
    """Scenario seconds: real time x ``speed`` plus manual jumps made with ``advance``."""

    def __init__(self, *, speed: float = 1.0, start_s: float = 0.0,
                 real: Callable[[], float] = time.monotonic) -> None:
        self._real = real
        self._lock = threading.Lock()
        self._base_s = start_s
        self._real_at_base = real()
        self._speed = speed

    def now(self) -> float:
        with self._lock:
            return self._base_s + (self._real() - self._real_at_base) * self._speed

    def advance(self, seconds: float) -> None:
        """Jump scenario time forward (e.g. ``advance(600)`` = ten minutes later)."""
        with self._lock:
            self._base_s += seconds

    def set_speed(self, speed: float) -> None:
        """Change the acceleration from now on (0 freezes scenario time)."""
        now = self.now()
        with self._lock:
            self._base_s, self._real_at_base, self._speed = now, self._real(), speed


class DeviceModel(Protocol):
    def values(self, t: float) -> dict[str, float]: ...


Interval = tuple[float, float]  # (start_s, duration_s)


def _door_extra_c(t: float, openings: Sequence[Interval], rise_c_per_s: float, tau_s: float) -> float:
    """Warming from open doors: linear while open, exponential recovery after closing."""
    extra = 0.0
    for start, duration in openings:
        if t < start:
            continue
        if t < start + duration:
            extra += rise_c_per_s * (t - start)
        else:
            extra += rise_c_per_s * duration * math.exp(-(t - start - duration) / tau_s)
    return extra


@dataclass
class FridgeModel:
    """Compressor cycling between ``low_c`` and ``high_c``; doors add a warming bump."""

    low_c: float = 2.0
    high_c: float = 6.0
    period_s: float = 1200.0
    duty: float = 0.4  # fraction of the period the compressor runs (cooling)
    door_openings: list[Interval] = field(default_factory=list)
    door_rise_c_per_s: float = 0.02
    recover_tau_s: float = 300.0
    humidity_pct: float = 70.0

    def compressor_on(self, t: float) -> bool:
        return (t % self.period_s) < self.duty * self.period_s

    def temperature_c(self, t: float) -> float:
        phase = t % self.period_s
        on_s = self.duty * self.period_s
        span = self.high_c - self.low_c
        if phase < on_s:
            base = self.high_c - span * phase / on_s
        else:
            base = self.low_c + span * (phase - on_s) / (self.period_s - on_s)
        return base + _door_extra_c(t, self.door_openings, self.door_rise_c_per_s, self.recover_tau_s)

    def values(self, t: float) -> dict[str, float]:
        door_open = any(s <= t < s + d for s, d in self.door_openings)
        return {"temperature_c": self.temperature_c(t),
                "humidity_pct": self.humidity_pct + (8.0 if door_open else 0.0)}


def freezer_model(**overrides: object) -> FridgeModel:
    """A freezer: the same cycling physics around -18 degC."""
    settings: dict[str, object] = {"low_c": -20.0, "high_c": -16.0, "period_s": 1800.0,
                                   "duty": 0.5, "humidity_pct": 60.0}
    settings.update(overrides)
    return FridgeModel(**settings)  # type: ignore[arg-type]


@dataclass
class FailingFridgeModel(FridgeModel):
    """Normal until ``fail_at_s``, then the compressor dies and it warms toward ambient."""

    fail_at_s: float = 600.0
    ambient_c: float = 24.0
    warm_tau_s: float = 3600.0

    def temperature_c(self, t: float) -> float:
        if t < self.fail_at_s:
            return super().temperature_c(t)
        at_failure = super().temperature_c(self.fail_at_s)
        return self.ambient_c - (self.ambient_c - at_failure) * math.exp(-(t - self.fail_at_s) / self.warm_tau_s)


@dataclass
class CabinetCycle:
    """One disinfection run: heat up, hold near target, cool down.

    ``peak_c`` below the target models a weak element that never reaches it;
    ``cut_after_s`` models a run cut short (door opened, power lost) at that age.
    """

    start_s: float
    target_c: float = 125.0
    heat_c_per_s: float = 100.0 / 720.0  # ~12 minutes from ambient to 125 degC
    hold_s: float = 900.0
    peak_c: float | None = None
    cut_after_s: float | None = None


@dataclass
class DisinfectionCabinetModel:
    """Cabinet temperature from a list of cycles; ambient between them."""

    cycles: list[CabinetCycle] = field(default_factory=list)
    ambient_c: float = 25.0
    cool_tau_s: float = 600.0
    ripple_c: float = 1.0  # thermostat ripple while holding

    def temperature_c(self, t: float) -> float:
        started = [c for c in self.cycles if c.start_s <= t]
        if not started:
            return self.ambient_c
        cycle = max(started, key=lambda c: c.start_s)
        age = t - cycle.start_s
        if cycle.cut_after_s is not None and age > cycle.cut_after_s:
            return self._cooling(self._running_c(cycle, cycle.cut_after_s), age - cycle.cut_after_s)
        return self._running_c(cycle, age)

    def _running_c(self, cycle: CabinetCycle, age: float) -> float:
        top = cycle.target_c if cycle.peak_c is None else min(cycle.peak_c, cycle.target_c)
        heat_s = (top - self.ambient_c) / cycle.heat_c_per_s
        if age < heat_s:
            return self.ambient_c + cycle.heat_c_per_s * age
        if age < heat_s + cycle.hold_s:
            return top + self.ripple_c * math.sin(2 * math.pi * (age - heat_s) / 60.0)
        return self._cooling(top, age - heat_s - cycle.hold_s)

    def _cooling(self, from_c: float, since_s: float) -> float:
        return self.ambient_c + (from_c - self.ambient_c) * math.exp(-since_s / self.cool_tau_s)

    def values(self, t: float) -> dict[str, float]:
        return {"temperature_c": self.temperature_c(t)}


@dataclass
class RunContactsModel:
    """Relay contacts (UV lamp, ozone generator): channel point name -> run intervals."""

    channels: dict[str, list[Interval]] = field(default_factory=dict)

    def values(self, t: float) -> dict[str, float]:
        return {name: 1.0 if any(s <= t < s + d for s, d in runs) else 0.0
                for name, runs in self.channels.items()}
