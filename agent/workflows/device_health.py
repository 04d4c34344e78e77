"""Serial device health → ``device_offline`` alarms (Modbus devices have their own, in cold_chain).

Drivers publish a ``DeviceHealth`` on every state change. A device that reports
``SILENT`` has already been quiet for its own ``silent_after_s``, so the alarm is raised
at once. ``DISCONNECTED`` waits ``disconnect_grace_s`` first: cheap USB adapters drop
out and re-enumerate in a second, and a cable pulled and pushed back must not page
anyone. Back to ``OK`` clears the alarm (or cancels the pending one). The subject is
``{"device_id": ...}``; one open alarm per device (the store enforces it).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from agent.recorder import Recorder
from agent.records import Source
from drivers.readings import DeviceHealth, DeviceState, Reading

log = logging.getLogger("agent.workflows.device_health")

DOWN = (DeviceState.SILENT, DeviceState.DISCONNECTED)


class DeviceHealthWatch:
    """A bus health listener and a ticked workflow (it wants no readings)."""

    name = "device-health"

    def __init__(self, recorder: Recorder, device_ids: set[str] | None = None,
                 disconnect_grace_s: float = 10.0) -> None:
        self.recorder = recorder
        self.device_ids = device_ids  # None: every device that reports health here
        self.grace = timedelta(seconds=disconnect_grace_s)
        self.latest: dict[str, DeviceHealth] = {}
        self._down_since: dict[str, datetime] = {}
        self._raised: set[str] = set()

    def on_health(self, health: DeviceHealth) -> None:
        if self.device_ids is not None and health.device_id not in self.device_ids:
            return
        self.latest[health.device_id] = health
        if health.state in DOWN:
            self._down_since.setdefault(health.device_id, health.at)
            if health.state is DeviceState.SILENT:
                self._raise(health, health.at)
        elif health.state is DeviceState.OK:
            self._down_since.pop(health.device_id, None)
            self._clear(health)

    def wants(self, reading: Reading) -> bool:
        return False

    def on_reading(self, reading: Reading) -> None:
        """Never called: this watch wants no readings."""

    def tick(self, now: datetime) -> None:
        for device_id, since in list(self._down_since.items()):
            if device_id not in self._raised and now - since >= self.grace:
                self._raise(self.latest[device_id], now)

    def _raise(self, health: DeviceHealth, at: datetime) -> None:
        if health.device_id in self._raised:
            return
        self._raised.add(health.device_id)
        self.recorder.raise_alarm(
            "device_offline", {"device_id": health.device_id},
            f"serial device {health.device_id} {health.state.value}: {health.detail}",
            severity="major", occurred_at=at, source=Source(device_id=health.device_id, kind=health.kind),
            details={"state": health.state.value, "detail": health.detail, "good_frames": health.good_frames,
                     "bad_frames": health.bad_frames, **{k: str(v) for k, v in health.extra.items()}})

    def _clear(self, health: DeviceHealth) -> None:
        # also after a restart: an alarm left open by the previous run is closed by the first OK
        self._raised.discard(health.device_id)
        if self.recorder.clear_alarm("device_offline", {"device_id": health.device_id},
                                     f"serial device {health.device_id} back: {health.detail}",
                                     occurred_at=health.at):
            log.info("device back online device=%s", health.device_id)
