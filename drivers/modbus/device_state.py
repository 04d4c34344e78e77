"""Per-device bookkeeping of the bus scheduler: counters, health state, back-off, due time."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime

from ..backoff import Backoff
from ..readings import DeviceHealth, DeviceState, DownReason, HealthSink
from .config import ModbusDeviceConfig
from .decoding import ReadBlock, plan_reads
from .profiles import DeviceProfile

log = logging.getLogger(__name__)

HEALTH_KIND = "modbus"


@dataclass(slots=True)
class DeviceCounters:
    """What happened on the wire for one device. Errors are counted, never turned into readings."""

    polls: int = 0  # poll cycles started
    ok: int = 0  # poll cycles that produced a reading
    timeouts: int = 0  # request attempts with no reply at all
    crc_errors: int = 0  # replies with bad CRC, truncated, or for another slave / request
    exceptions: int = 0  # Modbus exception responses
    probes: int = 0  # single-attempt polls made while backed off

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(slots=True)
class PolledDevice:
    """A configured device plus everything the scheduler tracks about it."""

    config: ModbusDeviceConfig
    profile: DeviceProfile
    timeout_s: float
    blocks: list[ReadBlock] = field(default_factory=list)
    counters: DeviceCounters = field(default_factory=DeviceCounters)
    state: DeviceState = DeviceState.STARTING
    failures_in_row: int = 0
    backoff_s: float = 0.0  # 0 = polled normally
    next_due: float = 0.0  # event-loop time of the next poll
    last_reading_at: datetime | None = None
    poll_times: list[float] = field(default_factory=list)  # loop times polls started (bounded)

    @classmethod
    def build(cls, config: ModbusDeviceConfig, profile: DeviceProfile, bus_timeout_s: float) -> PolledDevice:
        timeout = config.timeout_s if config.timeout_s is not None else bus_timeout_s
        return cls(config=config, profile=profile, timeout_s=timeout, blocks=plan_reads(profile))

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def backed_off(self) -> bool:
        return self.backoff_s > 0

    def note_poll_started(self, at: float, keep: int = 256) -> None:
        self.counters.polls += 1
        self.poll_times.append(at)
        if len(self.poll_times) > keep:
            del self.poll_times[: len(self.poll_times) - keep]

    def schedule_after_success(self, now: float) -> None:
        self.failures_in_row, self.backoff_s = 0, 0.0
        # Keep the stagger phase; if we fell behind, do not burst to catch up.
        self.next_due = max(self.next_due + self.config.poll_s, now)

    def schedule_after_failure(self, now: float, silent_after: int, backoff_max_s: float) -> None:
        self.failures_in_row += 1
        if self.failures_in_row < silent_after:
            self.next_due = max(self.next_due + self.config.poll_s, now)
            return
        # Dead device: probe at growing intervals so it cannot eat the others' bus time.
        probes_missed = self.failures_in_row - silent_after
        self.backoff_s = Backoff(2 * self.config.poll_s, backoff_max_s).delay(probes_missed)
        self.next_due = now + self.backoff_s


class HealthPublisher:
    """Sends a ``DeviceHealth`` to the sink whenever a device's state changes."""

    def __init__(self, sink: HealthSink, now: Callable[[], datetime], bus_id: str) -> None:
        self._sink = sink
        self._now = now
        self._bus_id = bus_id

    def set_state(self, device: PolledDevice, state: DeviceState, detail: str = "",
                  reason: DownReason = "") -> None:
        if device.state == state:
            return
        log.info("modbus device state: %s %s -> %s %s", device.id, device.state, state, detail)
        device.state = state
        counters = device.counters
        health = DeviceHealth(
            device_id=device.id,
            kind=HEALTH_KIND,
            state=state,
            at=self._now(),
            bad_frames=counters.timeouts + counters.crc_errors + counters.exceptions,
            good_frames=counters.ok,
            last_reading_at=device.last_reading_at,
            detail=detail,
            extra={"bus": self._bus_id, "slave": device.config.slave, "role": device.config.role,
                   "profile": device.profile.id, **counters.as_dict()},
            reason=reason,
        )
        try:
            self._sink(health)
        except Exception:  # a broken consumer must not stop the bus
            log.exception("modbus health sink failed for %s", device.id)
