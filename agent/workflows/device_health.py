"""Device health → offline alarms, for serial devices, Modbus devices and cameras alike.

Drivers (and camera workers) publish a ``DeviceHealth`` on every state change; they
measure silence themselves (``silent_after_s`` of a serial driver, a camera's frames,
a Modbus device's failed polls). This watch turns that health into one alarm per
device, with a per-device ``OfflinePolicy``: how long a device may stay ``SILENT`` or
``DISCONNECTED`` before the alarm (cheap USB adapters re-enumerate in a second; a probe
silent for a minute is a door left open, not a fault), and which alarm and subject it
raises. Back to ``OK`` clears the alarm (also one left open by the previous run) or
cancels the pending one.

How long a device has been down is measured on the monotonic clock, never on the wall
clock: after NTP steps the clock back an hour, an unplugged scale is still declared
offline after its 10 s, not after 3,610 s. The monotonic source is injected next to
``now`` (an accelerated demo or a test drives both).

Health arrives from the reading bus's dispatcher and, for cameras, from each camera's
worker thread: one lock keeps the bookkeeping straight.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from agent.core.recorder import Recorder
from agent.core.timeutil import Monotonic
from agent.records.envelope import Source
from agent.words.alarms import kind_term
from agent.words.terms import down_reason
from drivers.readings import DeviceHealth, DeviceState, Reading

log = logging.getLogger("agent.workflows.device_health")

DOWN = (DeviceState.SILENT, DeviceState.DISCONNECTED)


@dataclass(frozen=True, slots=True)
class OfflinePolicy:
    """When a down device becomes an alarm, and what the alarm is called."""

    label: str  # how messages name the device: "serial device", "modbus device", "camera"
    silent_grace_s: float  # SILENT this long (after the driver's own silence timeout) -> alarm
    disconnected_grace_s: float  # DISCONNECTED this long -> alarm
    alarm: str = "device_offline"
    subject_key: str = "device_id"

    def grace_s(self, state: DeviceState) -> float:
        return self.silent_grace_s if state is DeviceState.SILENT else self.disconnected_grace_s


def serial_policy(disconnect_grace_s: float = 10.0) -> OfflinePolicy:
    """SILENT: the driver already waited its ``silent_after_s``; a pulled cable gets a grace."""
    return OfflinePolicy("serial device", silent_grace_s=0.0, disconnected_grace_s=disconnect_grace_s)


def modbus_policy(silent_minutes: float) -> OfflinePolicy:
    """``rules.cold_chain.probe_silent_minutes``: a probe may miss polls that long."""
    return OfflinePolicy("modbus device", silent_grace_s=silent_minutes * 60,
                         disconnected_grace_s=silent_minutes * 60)


def camera_policy() -> OfflinePolicy:
    """The camera worker reports SILENT after the camera's ``silent_after_s`` without frames."""
    return OfflinePolicy("camera", silent_grace_s=0.0, disconnected_grace_s=math.inf,
                         alarm="camera_offline", subject_key="camera_id")


@dataclass(slots=True)
class _Down:
    first: DeviceHealth  # the health that first said down
    latest: DeviceHealth
    since_mono: float  # monotonic time it first said down


class DeviceHealthWatch:
    """A bus health listener and a ticked workflow (it wants no readings)."""

    name = "device-health"

    def __init__(self, recorder: Recorder, policies: dict[str, OfflinePolicy] | None = None,
                 *, monotonic: Monotonic = time.monotonic) -> None:
        self.recorder = recorder
        self.policies: dict[str, OfflinePolicy] = dict(policies or {})
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._down: dict[str, _Down] = {}
        self._raised: set[str] = set()

    def watch(self, device_ids: Iterable[str], policy: OfflinePolicy) -> None:
        """Watch these devices with this policy (devices not watched are ignored)."""
        self.watch_all(dict.fromkeys(device_ids, policy))

    def watch_all(self, policies: Mapping[str, OfflinePolicy]) -> None:
        """Watch each device with its own policy."""
        with self._lock:
            self.policies.update(policies)

    def on_health(self, health: DeviceHealth) -> None:
        policy = self.policies.get(health.device_id)
        if policy is None:
            return
        with self._lock:
            if health.state in DOWN:
                down = self._down.setdefault(health.device_id, _Down(health, health, self._monotonic()))
                down.latest = health
                if policy.grace_s(health.state) <= 0:
                    self._raise(policy, down, health.at)
                return
            if health.state is not DeviceState.OK:
                return
            self._down.pop(health.device_id, None)
            self._raised.discard(health.device_id)
        # also after a restart: an alarm left open by the previous run is closed by the first OK
        title = kind_term(policy.alarm)
        if self.recorder.clear_alarm(policy.alarm, {policy.subject_key: health.device_id},
                                     f"{health.device_id} 已恢复 / {health.device_id} back: {title.en} cleared",
                                     occurred_at=health.at, details={"detail": health.detail}):
            log.info("device back online device=%s", health.device_id)

    def wants(self, reading: Reading) -> bool:
        return False

    def on_reading(self, reading: Reading) -> None:
        """Never called: this watch wants no readings."""

    def tick(self, now: datetime) -> None:
        with self._lock:
            mono = self._monotonic()
            for device_id, down in list(self._down.items()):
                policy = self.policies[device_id]
                if device_id not in self._raised and mono - down.since_mono >= policy.grace_s(down.latest.state):
                    self._raise(policy, down, now)

    def _raise(self, policy: OfflinePolicy, down: _Down, at: datetime) -> None:
        health = down.latest
        if health.device_id in self._raised:
            return
        self._raised.add(health.device_id)
        down_s = max(0.0, self._monotonic() - down.since_mono)
        message = offline_message(policy, health, down_s)
        self.recorder.raise_alarm(
            policy.alarm, {policy.subject_key: health.device_id}, message,
            severity="major", occurred_at=at, source=Source(device_id=health.device_id, kind=health.kind),
            details={"state": health.state.value, "reason": health.reason or None, "detail": health.detail,
                     "down_s": round(down_s, 1),
                     "since": down.first.at.isoformat(), "good_frames": health.good_frames,
                     "bad_frames": health.bad_frames,
                     "last_reading_at": health.last_reading_at.isoformat() if health.last_reading_at else None,
                     **{k: _plain(v) for k, v in health.extra.items()}})
        log.warning("device offline device=%s state=%s down_s=%.0f", health.device_id, health.state.value, down_s)


def offline_message(policy: OfflinePolicy, health: DeviceHealth, down_s: float) -> str:
    """``设备离线：thermo-mc 串口打不开 / device offline: thermo-mc, serial port cannot be
    opened``: the reason in words; the driver's own text (an OS error, a port path) goes
    to the alarm's ``details`` and the log, for the installer."""
    title, reason = kind_term(policy.alarm), down_reason(health.reason)
    device = health.device_id
    zh, en = f"{title.zh}：{device} {reason.zh}", f"{title.en}: {device}, {reason.en}"
    if down_s >= 60:
        zh, en = f"{zh}（已 {down_s / 60:.0f} 分钟）", f"{en} (down {down_s / 60:.0f} min)"
    return f"{zh} / {en}"


def _plain(value: object) -> object:
    """JSON-ready detail values (numbers stay numbers, anything else becomes text)."""
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)
