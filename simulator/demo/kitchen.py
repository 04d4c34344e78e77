"""The demo's simulated kitchen: one clock, the serial devices, the Modbus line and gateway, a camera.

Everything that has a notion of time reads ``DemoClock``: the agent's ``now``, the
Modbus physics (a ``ScenarioClock`` in seconds since the demo day's midnight), hence
the readings the drivers stamp, the schedule engine's ticks. The clock can run at any
speed, be frozen (speed 0) while people interact with stations, and jump over idle hours.
The camera is the exception: vision judges persistence on the frames' own (monotonic)
timeline, so a mask violation takes real seconds whatever the clock's speed.

While equipment runs, the clock is on a leash (``DemoClock.leash``): it never runs more
than ``ahead_s`` simulated seconds past the last reading the agent has taken from each
watched device (``acknowledge``, fed by the agent's reading bus). On a busy machine the
agent's poll can fall late in wall time; the simulated day then waits for it instead of
racing ahead, so two readings of a cabinet are never further apart (in the simulated
time the agent judges on) than ``ahead_s``, however slow the machine. The agent's own
rules (a gap of more than 120 s counts nothing) are unchanged: the demo keeps within them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time as systime
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from drivers.modbus.profiles import load_profiles
from simulator.devices.cameras import MjpegServer, Segment
from simulator.devices.modbus_devices import PtyRtuServer, TcpGatewayServer
from simulator.devices.modbus_physics import ScenarioClock
from simulator.devices.modbus_scenarios import SimDevice, build_bus
from simulator.devices.serial_devices import (
    GyThermometerSim,
    LineSerialDevice,
    PtySerialDevice,
    ScaleSim,
    SerialBadgeSim,
)

log = logging.getLogger("simulator.demo")


def seconds_of(at: time) -> float:
    return at.hour * 3600 + at.minute * 60 + at.second


class LeashedClock(ScenarioClock):
    """Scenario seconds that wait for the agent's readings while a leash is on.

    With no leash it is a plain ``ScenarioClock``. With one (``leash``), ``now()`` holds at
    ``min(last acknowledged reading of each watched device) + ahead_s`` until a new reading
    moves that limit, then runs on from where it held (no jump). If the agent takes no
    reading of a watched device for ``patience_s`` real seconds (a device or the agent is
    down), the leash is let go with a warning and the day goes on: the agent then judges
    the gap it saw, as it would in a kitchen.
    """

    def __init__(self, *, start_s: float, patience_s: float = 30.0,
                 real: Callable[[], float] = systime.monotonic) -> None:
        super().__init__(speed=0.0, start_s=start_s, real=real)
        self.patience_s = patience_s
        self._acks: dict[str, float] | None = None  # device id -> scenario seconds of its last reading
        self._ahead_s = 0.0
        self._held_since: float | None = None  # real seconds when the clock began waiting
        self.holds = 0  # how often the clock waited for a reading
        self.held_s = 0.0  # real seconds spent waiting

    def now(self) -> float:
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> float:
        real = self._real()
        t = self._base_s + (real - self._real_at_base) * self._speed
        if self._acks is None:
            return t
        limit = max(min(self._acks.values()) + self._ahead_s, self._base_s)  # never back
        if t <= limit:
            self._end_hold(real)
            return t
        self._base_s, self._real_at_base = limit, real  # wait here; run on from here later
        if self._held_since is None:
            self._held_since = real
            self.holds += 1
        elif real - self._held_since > self.patience_s:
            late = sorted(d for d, at in self._acks.items() if at + self._ahead_s <= limit)
            log.warning("demo clock: no reading of %s for %.0f s real; the day goes on without waiting",
                        ",".join(late), real - self._held_since)
            self._end_hold(real)
            self._acks = None
        return limit

    def _end_hold(self, real: float) -> None:
        if self._held_since is not None:
            self.held_s += real - self._held_since
            self._held_since = None

    def acknowledge(self, device_id: str, at_s: float) -> None:
        """The agent has taken a reading of ``device_id`` stamped ``at_s`` scenario seconds."""
        with self._lock:
            if self._acks is None or device_id not in self._acks:
                return
            self._now_locked()  # a hold ends here, at the limit it held at
            self._acks[device_id] = max(self._acks[device_id], at_s)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._base_s += seconds
            if self._acks is not None:  # nothing in between is simulated: nothing to wait for
                self._acks = {d: at + seconds for d, at in self._acks.items()}

    @contextmanager
    def leash(self, devices: Iterable[str], ahead_s: float) -> Iterator[None]:
        """While inside: never more than ``ahead_s`` past the last reading of any of ``devices``."""
        with self._lock:
            start = self._now_locked()
            self._acks, self._ahead_s = dict.fromkeys(devices, start), ahead_s
            if not self._acks:
                self._acks = None
        try:
            yield
        finally:
            with self._lock:
                self._now_locked()
                self._end_hold(self._real())
                self._acks = None


class DemoClock:
    """Scenario seconds since the demo day's local midnight, and the matching local datetime."""

    def __init__(self, day: date, tz: ZoneInfo, start: time) -> None:
        self.midnight = datetime.combine(day, time(0), tzinfo=tz)
        self.scenario = LeashedClock(start_s=seconds_of(start))
        self.speed = 0.0

    def __call__(self) -> datetime:
        return self.midnight + timedelta(seconds=self.scenario.now())

    def seconds(self) -> float:
        return self.scenario.now()

    def monotonic(self) -> float:
        """The agent's monotonic clock: scenario seconds (they never step back)."""
        return self.scenario.now()

    def set_speed(self, speed: float) -> None:
        self.speed = speed
        self.scenario.set_speed(speed)

    def advance(self, seconds: float) -> None:
        """Jump forward (nothing in between is simulated)."""
        self.scenario.advance(seconds)

    def jump_to(self, at: time) -> None:
        ahead = seconds_of(at) - self.seconds()
        if ahead > 0:
            self.advance(ahead)

    def leash(self, devices: Iterable[str], ahead_s: float) -> contextlib.AbstractContextManager[None]:
        """The clock waits for the agent's readings of ``devices`` (see ``LeashedClock.leash``)."""
        return self.scenario.leash(devices, ahead_s)

    def acknowledge(self, device_id: str, at_s: float) -> None:
        self.scenario.acknowledge(device_id, at_s)


# --- serial devices ------------------------------------------------------------------------


@dataclass
class SerialKit:
    """The stations' devices, each on a pty behind ``<dev>/<device id>`` (the config's ports)."""

    dev: Path
    thermo_mc: GyThermometerSim = field(init=False)
    badge_mc: SerialBadgeSim = field(init=False)
    keypad_mc: LineSerialDevice = field(init=False)
    badge_fs: SerialBadgeSim = field(init=False)
    scale_fs: ScaleSim = field(init=False)
    badge_ck: SerialBadgeSim = field(init=False)
    badge_rc: SerialBadgeSim = field(init=False)
    keypad_rc: LineSerialDevice = field(init=False)
    scale_rc: ScaleSim = field(init=False)

    def __post_init__(self) -> None:
        self.dev.mkdir(parents=True, exist_ok=True)
        self.thermo_mc = GyThermometerSim(self.dev / "thermo-mc", ambient_c=24.0)
        self.badge_mc = SerialBadgeSim(self.dev / "badge-mc")
        self.keypad_mc = LineSerialDevice(self.dev / "keypad-mc")
        self.badge_fs = SerialBadgeSim(self.dev / "badge-fs")
        self.scale_fs = ScaleSim("ad_ascii", self.dev / "scale-fs", unit="g", period_s=0.1)
        self.badge_ck = SerialBadgeSim(self.dev / "badge-ck")
        self.badge_rc = SerialBadgeSim(self.dev / "badge-rc")
        self.keypad_rc = LineSerialDevice(self.dev / "keypad-rc")
        self.scale_rc = ScaleSim("indicator_ascii", self.dev / "scale-rc", unit="kg", period_s=0.1)

    @property
    def all(self) -> list[PtySerialDevice]:
        return [self.thermo_mc, self.badge_mc, self.keypad_mc, self.badge_fs, self.scale_fs, self.badge_ck,
                self.badge_rc, self.keypad_rc, self.scale_rc]

    def start(self) -> SerialKit:
        for device in self.all:
            device.start()
        return self

    def stop(self) -> None:
        for device in self.all:
            device.stop()


# --- Modbus: an RTU line on a pty and a TCP gateway, served from one thread -------------------


class ModbusSims:
    """The kitchen's RS-485 line (pty behind ``rtu_link``) and the store room's TCP gateway."""

    def __init__(self, clock: DemoClock, rtu_devices: list[SimDevice], tcp_devices: list[SimDevice],
                 rtu_link: Path) -> None:
        self.clock = clock
        self.rtu_devices, self.tcp_devices, self.rtu_link = rtu_devices, tcp_devices, rtu_link
        self.rtu: PtyRtuServer | None = None
        self.tcp: TcpGatewayServer | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="demo-modbus", daemon=True)

    @property
    def tcp_port(self) -> int:
        assert self.tcp is not None
        return self.tcp.port

    def start(self, timeout: float = 10.0) -> ModbusSims:
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise RuntimeError(f"Modbus simulators did not start: {self._error or 'timeout'}")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported to start() or logged
            self._error = exc
            self._ready.set()
            log.exception("demo modbus simulators failed")

    async def _serve(self) -> None:
        profiles = load_profiles()
        self.rtu = PtyRtuServer(build_bus(self.clock.scenario, profiles, self.rtu_devices, baudrate=9600),
                                self.rtu_link)
        self.tcp = TcpGatewayServer(build_bus(self.clock.scenario, profiles, self.tcp_devices, baudrate=9600))
        await self.rtu.start()
        await self.tcp.start()
        self._ready.set()
        try:
            while not self._stop.is_set():
                await asyncio.sleep(0.1)
        finally:
            await self.rtu.stop()
            await self.tcp.stop()


# --- the camera ---------------------------------------------------------------------------------


class DirectedScript:
    """A camera script the demo directs live: whoever ``person`` says is in view now."""

    duration_s = float("inf")

    def __init__(self) -> None:
        self.person: str | None = None  # None, "with_mask" or "without_mask"

    @property
    def segments(self) -> list[Segment]:
        return [Segment(self.duration_s, self.person)]

    def at(self, t: float) -> Segment:
        return Segment(self.duration_s, self.person)


class KitchenCamera:
    """The kitchen's IP camera: HTTP MJPEG on a free loopback port, the scene directed by the demo."""

    def __init__(self, fps: float = 5.0) -> None:
        self.script = DirectedScript()
        self.server = MjpegServer(self.script, fps=fps, loop=False)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        return self.server.url

    def show(self, person: str | None) -> None:
        self.script.person = person
        log.info("demo camera person=%s", person)

    def start(self) -> KitchenCamera:
        self.server.plug()
        return self

    def stop(self) -> None:
        self.server.unplug()
