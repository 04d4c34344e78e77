"""Bus scheduler: one polling queue per RS-485 line / TCP gateway, on one asyncio loop.

Each bus is owned by a ``BusWorker`` task: it always polls the device whose turn is
next (staggered per-device intervals), keeps the line silent for 3.5 characters (plus
a configurable gap) between frames, retries timeouts and bad frames, backs off dead
devices so they cannot starve the others, and reopens the port when it vanishes.
Readings go to a ``ReadingSink``; health changes to a ``HealthSink``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from ..backoff import Backoff
from ..readings import (
    DeviceHealth,
    DeviceState,
    DownReason,
    HealthSink,
    ReadingSink,
    RegisterSample,
)
from .config import ModbusRtuBusConfig, ModbusTcpBusConfig
from .decoding import ReadBlock, decode_block
from .device_state import DeviceCounters, HealthPublisher, PolledDevice
from .links import LinkLost, SerialLink, TcpLink
from .profiles import DeviceProfile, load_profiles
from .transaction import (
    ByteLink,
    Outcome,
    Reply,
    Transactor,
    bits_per_char,
    read_request,
    rtu_silence_s,
)

log = logging.getLogger(__name__)

BusConfig = ModbusRtuBusConfig | ModbusTcpBusConfig


def utc_now() -> datetime:
    return datetime.now(UTC)


def _ignore_health(_: DeviceHealth) -> None:
    return None


def make_transactor(config: BusConfig) -> Transactor:
    """The byte link and framing a bus config asks for."""
    link: ByteLink
    if isinstance(config, ModbusRtuBusConfig):
        link = SerialLink(config.port, baudrate=config.baudrate, parity=config.parity,
                          stopbits=config.stopbits, bytesize=config.bytesize)
        char_bits = bits_per_char(config.bytesize, config.parity, config.stopbits)
        return Transactor(link, "rtu", rtu_silence_s(config.baudrate, char_bits) + config.inter_frame_gap)
    link = TcpLink(config.host, config.port, connect_timeout_s=max(config.timeout_s, 1.0))
    return Transactor(link, "socket", config.inter_frame_gap)


class BusWorker:
    """Polls every device of one bus, one request at a time."""

    def __init__(self, config: BusConfig, profiles: Mapping[str, DeviceProfile],
                 on_reading: ReadingSink, on_health: HealthSink,
                 now: Callable[[], datetime] = utc_now, mono: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.transactor = make_transactor(config)
        self.devices = [PolledDevice.build(d, profiles[d.profile], config.timeout_s) for d in config.devices]
        self._on_reading = on_reading
        self._now = now
        self._mono = mono
        self._health = HealthPublisher(on_health, now, config.id)

    @property
    def link(self) -> ByteLink:
        return self.transactor.link

    async def run(self) -> None:
        """Poll until cancelled; the port is closed on the way out."""
        if not self.devices:
            log.warning("modbus bus has no devices: %s", self.config.id)
            return
        try:
            while True:
                await self._ensure_open()
                await self._poll_next()
        finally:
            self.link.close()

    async def _poll_next(self) -> None:
        loop = asyncio.get_running_loop()
        device = min(self.devices, key=lambda d: d.next_due)
        if (wait := device.next_due - loop.time()) > 0:
            await asyncio.sleep(wait)
        try:
            await self.poll(device)
        except LinkLost as exc:
            self._on_link_lost(exc)

    def _stagger(self, start: float) -> None:
        """Spread first polls over each device's interval so requests do not bunch up."""
        count = len(self.devices)
        for index, device in enumerate(self.devices):
            device.failures_in_row, device.backoff_s = 0, 0.0
            device.next_due = start + device.config.poll_s * index / count

    async def _ensure_open(self) -> None:
        if self.link.is_open:
            return
        loop = asyncio.get_running_loop()
        delays = Backoff(self.config.reconnect_s, self.config.reconnect_max_s).delays()
        while True:
            try:
                await self.link.open()
                break
            except LinkLost as exc:
                self._mark_all(DeviceState.DISCONNECTED, str(exc), "link_down")
                delay = next(delays)
                log.debug("modbus bus reopen failed: %s %s (next try in %.1fs)", self.config.id, exc, delay)
                await asyncio.sleep(delay)
        log.info("modbus bus open: %s on %s", self.config.id, self.link.name)
        self._stagger(loop.time())

    def _on_link_lost(self, exc: Exception) -> None:
        log.warning("modbus bus lost: %s %s", self.config.id, exc)
        self.link.close()
        self._mark_all(DeviceState.DISCONNECTED, str(exc), "link_down")

    def _mark_all(self, state: DeviceState, detail: str, reason: DownReason = "") -> None:
        for device in self.devices:
            self._health.set_state(device, state, detail, reason)

    async def poll(self, device: PolledDevice) -> bool:
        """Read every block of ``device``; emit one reading if all succeeded."""
        loop = asyncio.get_running_loop()
        device.note_poll_started(loop.time())
        probing = device.backed_off
        device.counters.probes += probing
        attempts = 1 if probing else 1 + self.config.retries
        values: dict[str, float] = {}
        for block in device.blocks:
            reply = await self._read_block(device, block, attempts)
            decoded = self._decode(device, block, reply)
            if decoded is None:
                self._after_failure(device, reply, loop.time())
                return False
            values.update(decoded)
        self._after_success(device, values, loop.time())
        return True

    async def _read_block(self, device: PolledDevice, block: ReadBlock, attempts: int) -> Reply:
        reply = Reply(Outcome.TIMEOUT)
        for _ in range(attempts):
            request = read_request(block, device.config.slave)
            reply = await self.transactor.transact(request, device.timeout_s)
            if reply.outcome is Outcome.OK:
                return reply
            self._count_error(device, reply)
            if reply.outcome is Outcome.EXCEPTION:
                return reply  # the device answered on purpose; asking again will not help
        return reply

    def _decode(self, device: PolledDevice, block: ReadBlock, reply: Reply) -> dict[str, float] | None:
        if reply.outcome is not Outcome.OK or reply.pdu is None:
            return None
        words = reply.pdu.bits if block.is_bits else reply.pdu.registers
        try:
            return decode_block(block, list(words))
        except ValueError as exc:  # short reply that still had a valid CRC
            device.counters.crc_errors += 1
            log.warning("modbus bad reply: %s %s", device.id, exc)
            return None

    @staticmethod
    def _count_error(device: PolledDevice, reply: Reply) -> None:
        counters = device.counters
        if reply.outcome is Outcome.TIMEOUT:
            counters.timeouts += 1
        elif reply.outcome is Outcome.EXCEPTION:
            counters.exceptions += 1
        else:
            counters.crc_errors += 1
        log.debug("modbus %s: %s %s %s", reply.outcome, device.id, reply.exception_code or "", reply.detail)

    def _after_success(self, device: PolledDevice, values: dict[str, float], now: float) -> None:
        device.counters.ok += 1
        device.schedule_after_success(now)
        at, mono = self._now(), self._mono()
        device.last_reading_at = at
        self._health.set_state(device, DeviceState.OK)
        try:
            self._on_reading(RegisterSample(device_id=device.id, at=at, mono=mono, values=values))
        except Exception:  # a broken consumer must not stop the bus
            log.exception("modbus reading sink failed for %s", device.id)

    def _after_failure(self, device: PolledDevice, reply: Reply, now: float) -> None:
        device.schedule_after_failure(now, self.config.silent_after_failures, self.config.backoff_max_s)
        transient = device.state is DeviceState.OK and not device.backed_off
        if transient:
            return
        detail = f"{reply.outcome}" + (f" code {reply.exception_code}" if reply.exception_code else "")
        if device.backed_off:
            detail += f"; next probe in {device.backoff_s:.1f}s"
        self._health.set_state(device, DeviceState.SILENT, detail, "no_answer")


class ModbusScheduler:
    """All Modbus buses of the agent.

    Use ``await run()`` (or ``start_async``/``stop_async``) inside the agent's loop, or
    ``start()``/``stop()`` from plain code: ``start()`` uses the running loop of the
    calling thread if there is one, otherwise it owns a thread with its own loop (sinks
    are then called from that thread).
    """

    def __init__(self, buses: Sequence[BusConfig], *, on_reading: ReadingSink,
                 on_health: HealthSink = _ignore_health,
                 profiles: Mapping[str, DeviceProfile] | None = None,
                 profile_dir: Path | str | None = None,
                 now: Callable[[], datetime] = utc_now, mono: Callable[[], float] = time.monotonic) -> None:
        profiles = profiles if profiles is not None else load_profiles(profile_dir)
        _check_profiles(buses, profiles)
        self.workers = [BusWorker(bus, profiles, on_reading, on_health, now, mono) for bus in buses]
        self._tasks: list[asyncio.Task[None]] = []
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        self._thread_ready = threading.Event()

    async def run(self) -> None:
        """Poll every bus until cancelled."""
        await asyncio.gather(*(worker.run() for worker in self.workers))

    async def start_async(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(w.run(), name=f"modbus-bus-{w.config.id}") for w in self.workers]

    async def stop_async(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def start(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            self._tasks = [loop.create_task(w.run(), name=f"modbus-bus-{w.config.id}") for w in self.workers]
            return
        self._thread = threading.Thread(target=self._thread_main, name="modbus-buses", daemon=True)
        self._thread.start()
        self._thread_ready.wait(5)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop polling; joins the owned thread, or cancels the tasks on the caller's loop."""
        if self._thread is None:
            for task in self._tasks:
                task.cancel()
            self._tasks = []
            return
        if self._thread_loop is not None:
            self._thread_loop.call_soon_threadsafe(lambda: [t.cancel() for t in self._tasks])
        self._thread.join(timeout_s)
        self._thread = None

    def _thread_main(self) -> None:
        async def main() -> None:
            self._thread_loop = asyncio.get_running_loop()
            await self.start_async()
            self._thread_ready.set()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run(main())

    def counters(self) -> dict[str, DeviceCounters]:
        """Live counters per device id (read-only use, please)."""
        return {d.id: d.counters for w in self.workers for d in w.devices}

    def states(self) -> dict[str, DeviceState]:
        return {d.id: d.state for w in self.workers for d in w.devices}


def _check_profiles(buses: Sequence[BusConfig], profiles: Mapping[str, DeviceProfile]) -> None:
    for bus in buses:
        for device in bus.devices:
            if device.profile not in profiles:
                raise ValueError(f"modbus device {device.id}: unknown profile {device.profile!r} "
                                 f"(known: {', '.join(sorted(profiles))})")
