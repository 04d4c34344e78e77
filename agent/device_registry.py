"""The last known state of every device and camera, for status and diagnostics.

Fed from the reading bus (health changes, readings) and by the vision pipeline
(analysed fps, inference time). Read by the uplink's status and by ``doctor``.
"""

from __future__ import annotations

import threading
from typing import Any

from drivers.readings import DeviceHealth, Reading, RegisterSample, StableWeight


class DeviceRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._devices: dict[str, dict[str, Any]] = {}
        self.version = 0  # bumps on every state change: the status is re-published

    def on_health(self, health: DeviceHealth) -> None:
        with self._lock:
            entry = self._devices.setdefault(health.device_id, {})
            changed = entry.get("state") != str(health.state)
            entry.update(kind=health.kind, state=str(health.state), since=health.at.isoformat(),
                         bad_frames=health.bad_frames, detail=health.detail, reason=health.reason or None)
            if "role" in health.extra:  # a Modbus device: what it is for (fridge, cabinet ...)
                entry["role"] = health.extra["role"]
            if changed:
                self.version += 1

    def on_reading(self, reading: Reading) -> None:
        with self._lock:
            entry = self._devices.setdefault(reading.device_id, {"state": "ok"})
            entry["last_reading_at"] = reading.at.isoformat()
            entry["last_reading"] = _summary(reading)

    def count(self, device_id: str, counter: str) -> None:
        """One more of something a station found wrong with a device's readings (a forehead
        reading no forehead can have): kept in the device's health, e.g. ``implausible_readings``."""
        with self._lock:
            entry = self._devices.setdefault(device_id, {})
            entry[counter] = int(entry.get(counter, 0)) + 1

    def update(self, device_id: str, **fields: Any) -> None:
        """Free-form figures (a camera's fps and inference ms)."""
        with self._lock:
            entry = self._devices.setdefault(device_id, {})
            if "state" in fields and fields["state"] != entry.get("state"):
                self.version += 1
            entry.update(fields)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: dict(v) for k, v in self._devices.items()}


def _summary(reading: Reading) -> dict[str, Any]:
    """What a reading says, minus personal data (no card numbers, no body temperatures)."""
    kind = type(reading).__name__
    if isinstance(reading, RegisterSample):
        return {"type": kind, **reading.values}
    if isinstance(reading, StableWeight):
        return {"type": kind, "grams": reading.grams}
    return {"type": kind}

