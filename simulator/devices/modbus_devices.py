"""Emulated Modbus devices on pseudo-terminals (RTU) and TCP, with wire timing and faults.

A ``SimulatedBus`` is one RS-485 line with several slaves (profile + physics model).
Requests are decoded and answered with pymodbus's framers, request PDUs and their
``datastore_update``; the bus acts as the datastore, computing registers from the
physics model at read time. Replies are delayed by the time the bytes would take on
the wire at the bus baud rate (request + 3.5-char turnaround + reply), so the agent's
pacing meets realistic timing.

(pymodbus's stock serial server cannot serve a pty master fd, cannot delay replies by
wire time and falls back to an exception for unknown slave ids, hence this small
server loop around pymodbus's pieces.)

Faults, per slave: ``inject(slave, Fault.TIMEOUT | Fault.CRC | Fault.EXCEPTION, count)``
and ``set_offline(slave, True/False)``; for the whole port: ``PtyRtuServer.unplug()`` /
``replug()`` and ``TcpGatewayServer.disconnect()`` / ``reconnect()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerBase, FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU

from drivers.modbus.decoding import encode_point
from drivers.modbus.profiles import DeviceProfile, PointSpec
from drivers.modbus.transaction import bits_per_char, rtu_silence_s

from .modbus_physics import DeviceModel, ScenarioClock
from .pty_port import close_fds, open_raw_pty, point_link, remove_link

log = logging.getLogger(__name__)

_FUNCTION_OF_CODE = {1: "coils", 2: "discrete", 3: "holding", 4: "input"}


class Fault(StrEnum):
    TIMEOUT = "timeout"  # the slave does not answer
    CRC = "crc"  # the reply arrives with a corrupted byte (bad CRC on RTU)
    EXCEPTION = "exception"  # the slave answers with a Modbus exception response


@dataclass
class _FaultPlan:
    kind: Fault
    remaining: int | None  # None: until cleared
    exception_code: int


@dataclass
class SimulatedSlave:
    """One emulated device: a profile's register map filled from a physics model."""

    profile: DeviceProfile
    model: DeviceModel
    offline: bool = False
    faults: list[_FaultPlan] = field(default_factory=list)
    requests: int = 0

    def read(self, function: str, address: int, count: int, t: float) -> list[int] | list[bool] | ExcCodes:
        """Registers (or bits) ``address..address+count`` at scenario time ``t``."""
        words = self._words(function, t)
        wanted = range(address, address + count)
        if any(a not in words for a in wanted):
            return ExcCodes.ILLEGAL_ADDRESS
        if function in ("coils", "discrete"):
            return [bool(words[a]) for a in wanted]
        return [words[a] for a in wanted]

    def _words(self, function: str, t: float) -> dict[int, int]:
        values = self.model.values(t)
        words: dict[int, int] = {}
        for point in self.profile.points:
            if point.function == function:
                registers = encode_point(point, _clamp(point, values.get(point.name, 0.0)))
                words.update({point.address + i: r for i, r in enumerate(registers)})
        return words

    def take_fault(self) -> _FaultPlan | None:
        """The fault to apply to the current request, consuming one of its count."""
        if not self.faults:
            return None
        plan = self.faults[0]
        if plan.remaining is not None:
            plan.remaining -= 1
            if plan.remaining <= 0:
                self.faults.pop(0)
        return plan


def _clamp(point: PointSpec, value: float) -> float:
    limits = {"int16": (-32768, 32767), "uint16": (0, 65535)}.get(point.data_type)
    if limits is None or point.data_type == "bool":
        return value
    low, high = (lim * point.scale + point.offset for lim in limits)
    return min(max(value, min(low, high)), max(low, high))


class SimulatedBus:
    """Slaves sharing one line, with the line's serial settings (for wire timing)."""

    def __init__(self, clock: ScenarioClock, *, baudrate: int = 9600, parity: str = "N",
                 stopbits: int = 1, bytesize: int = 8, emulate_wire_time: bool = True) -> None:
        self.clock = clock
        self.baudrate = baudrate
        self.char_bits = bits_per_char(bytesize, parity, stopbits)
        self.emulate_wire_time = emulate_wire_time
        self.slaves: dict[int, SimulatedSlave] = {}

    def add_slave(self, slave_id: int, profile: DeviceProfile, model: DeviceModel) -> SimulatedSlave:
        self.slaves[slave_id] = SimulatedSlave(profile, model)
        return self.slaves[slave_id]

    def inject(self, slave_id: int, kind: Fault, count: int | None = None,
               exception_code: int = ExcCodes.DEVICE_FAILURE) -> None:
        """Make the next ``count`` requests to ``slave_id`` fail that way (None = until cleared)."""
        self.slaves[slave_id].faults.append(_FaultPlan(kind, count, exception_code))
        log.info("modbus sim fault injected: slave %s %s x%s", slave_id, kind, count or "inf")

    def clear_faults(self, slave_id: int | None = None) -> None:
        for sid, slave in self.slaves.items():
            if slave_id is None or sid == slave_id:
                slave.faults.clear()

    def set_offline(self, slave_id: int, offline: bool = True) -> None:
        """A device dropping off the bus (cable cut, power lost) and coming back."""
        self.slaves[slave_id].offline = offline
        log.info("modbus sim slave %s %s", slave_id, "offline" if offline else "back online")

    def wire_s(self, byte_count: int) -> float:
        return byte_count * self.char_bits / self.baudrate

    def reply_delay_s(self, request_bytes: int, reply_bytes: int) -> float:
        """Request on the wire, the slave's 3.5-char end-of-frame wait, the reply on the wire."""
        if not self.emulate_wire_time:
            return 0.0
        turnaround = rtu_silence_s(self.baudrate, self.char_bits)
        return self.wire_s(request_bytes) + turnaround + self.wire_s(reply_bytes)

    async def async_getValues(self, device_id: int, func_code: int, address: int,
                              count: int = 1) -> list[int] | list[bool] | ExcCodes:
        """pymodbus datastore interface used by the request PDUs' ``datastore_update``."""
        function = _FUNCTION_OF_CODE.get(func_code)
        if function is None:
            return ExcCodes.ILLEGAL_FUNCTION
        return self.slaves[device_id].read(function, address, count, self.clock.now())

    async def async_setValues(self, device_id: int, func_code: int, address: int,
                              values: list[int] | list[bool]) -> ExcCodes | None:
        return ExcCodes.ILLEGAL_FUNCTION  # emulated probes are read-only

    async def answer(self, request: ModbusPDU) -> tuple[ModbusPDU | None, bool]:
        """The reply PDU for ``request`` (None = silence) and whether to corrupt it."""
        slave = self.slaves.get(request.dev_id)
        if slave is None or slave.offline:
            return None, False
        slave.requests += 1
        fault = slave.take_fault()
        if fault is not None and fault.kind is Fault.TIMEOUT:
            return None, False
        if fault is not None and fault.kind is Fault.EXCEPTION:
            reply: ModbusPDU = ExceptionResponse(request.function_code, fault.exception_code)
        else:
            reply = await request.datastore_update(self, request.dev_id)
        reply.dev_id, reply.transaction_id = request.dev_id, request.transaction_id
        return reply, fault is not None and fault.kind is Fault.CRC


class _FrameServer:
    """Decodes requests from a byte stream and writes delayed, possibly corrupted replies."""

    def __init__(self, bus: SimulatedBus, framer: FramerBase, corrupt_at: int) -> None:
        self.bus = bus
        self._framer = framer
        self._corrupt_at = corrupt_at  # index of the byte flipped by a CRC fault
        self._buffer = b""
        self.requests_seen = 0

    def feed(self, data: bytes) -> list[tuple[ModbusPDU, int]]:
        """Complete requests found in the stream so far, with their frame sizes."""
        self._buffer += data
        requests: list[tuple[ModbusPDU, int]] = []
        while self._buffer:
            used, dev_id, tid, frame = self._framer.decode(self._buffer)
            if not used:
                break
            self._buffer = self._buffer[used:]
            pdu = self._framer.decoder.decode(frame) if frame else None
            if pdu is None:
                continue  # line noise or a frame we cannot decode: real slaves stay silent
            pdu.dev_id, pdu.transaction_id = dev_id, tid
            requests.append((pdu, used))
        return requests

    async def reply_frame(self, request: ModbusPDU) -> bytes | None:
        """The reply frame for ``request`` (None = the slave stays silent), not yet delayed."""
        self.requests_seen += 1
        reply, corrupt = await self.bus.answer(request)
        if reply is None:
            return None
        frame = bytearray(self._framer.buildFrame(reply))
        if corrupt:
            frame[self._corrupt_at] ^= 0x5A
        return bytes(frame)

    async def reply_bytes(self, request: ModbusPDU, request_size: int) -> bytes | None:
        frame = await self.reply_frame(request)
        if frame is not None:
            await asyncio.sleep(self.bus.reply_delay_s(request_size, len(frame)))
        return frame


class PtyRtuServer:
    """A ``SimulatedBus`` behind a pseudo-terminal: the agent opens ``path`` as its serial port.

    With ``link_path`` the agent-side path is a symlink that survives ``unplug()`` /
    ``replug()`` (like a /dev/serial/by-id/ name); without it, ``path`` is the pty slave.

    A reply is written at the request's arrival plus its wire time, timed on a reply
    thread: the event loop's timers wake on whole milliseconds, which made the emulated
    slaves ~0.8 ms slower per exchange than the line they emulate.
    """

    def __init__(self, bus: SimulatedBus, link_path: Path | str | None = None) -> None:
        self.bus = bus
        self.link_path = Path(link_path) if link_path else None
        self._frames = _FrameServer(bus, FramerRTU(DecodePDU(True)), corrupt_at=-3)
        self._master: int | None = None
        self._slave: int | None = None
        self._slave_name = ""
        self._queue: asyncio.Queue[tuple[ModbusPDU, int, float]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._replier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modbus-sim-reply")
        self._fd_lock = threading.Lock()  # the reply thread never writes to a closed (reused) fd

    @property
    def path(self) -> str:
        return str(self.link_path) if self.link_path else self._slave_name

    @property
    def requests_seen(self) -> int:
        return self._frames.requests_seen

    async def start(self) -> str:
        """Create the pty and start answering; returns the agent-side path."""
        self._open_pty()
        self._worker = asyncio.get_running_loop().create_task(self._answer_loop())
        return self.path

    def _open_pty(self) -> None:
        self._master, self._slave, self._slave_name = open_raw_pty()
        if self.link_path:
            point_link(self.link_path, self._slave_name)
        asyncio.get_running_loop().add_reader(self._master, self._read_ready)
        log.info("modbus sim pty up: %s", self.path)

    def _read_ready(self) -> None:
        assert self._master is not None
        try:
            data = os.read(self._master, 1024)
        except OSError:
            return  # the agent closed its side; it may reopen later
        arrived = asyncio.get_running_loop().time()
        for request, size in self._frames.feed(data):
            self._queue.put_nowait((request, size, arrived))

    async def _answer_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            request, size, arrived = await self._queue.get()
            frame = await self._frames.reply_frame(request)
            if frame is not None and self._master is not None:
                due = arrived + self.bus.reply_delay_s(size, len(frame))
                await loop.run_in_executor(self._replier, self._write_at, self._master, frame, due)

    def _write_at(self, fd: int, frame: bytes, due: float) -> None:
        """Reply thread: sleep until ``due`` (``time.monotonic``, the loop's clock), then write."""
        if (wait := due - time.monotonic()) > 0:
            time.sleep(wait)
        with self._fd_lock:
            if self._master == fd:
                with contextlib.suppress(OSError):
                    os.write(fd, frame)

    def unplug(self) -> None:
        """The USB adapter disappears: the agent's fd gets EIO and the path vanishes."""
        if self._master is None:
            return
        asyncio.get_running_loop().remove_reader(self._master)
        with self._fd_lock:
            close_fds(self._master, self._slave)
            self._master = self._slave = None
        remove_link(self.link_path)
        log.info("modbus sim pty unplugged: %s", self.path)

    def replug(self) -> str:
        """The adapter comes back (a new pty behind the same symlink)."""
        self.unplug()
        self._open_pty()
        return self.path

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self.unplug()
        self._replier.shutdown(wait=False)


class TcpGatewayServer:
    """A Modbus TCP gateway in front of a ``SimulatedBus`` on 127.0.0.1 (free port by default).

    The serial side's wire time is still emulated; a CRC fault garbles the reply's
    transaction id (what a gateway passing a damaged frame looks like to the client).
    """

    def __init__(self, bus: SimulatedBus, host: str = "127.0.0.1", port: int = 0) -> None:
        self.bus = bus
        self.host, self.port = host, port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._line_lock = asyncio.Lock()  # one RS-485 line behind the gateway
        self.requests_seen = 0

    async def start(self) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("modbus sim tcp gateway up: %s:%s", self.host, self.port)
        return self.host, self.port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        frames = _FrameServer(self.bus, FramerSocket(DecodePDU(True)), corrupt_at=0)
        try:
            while data := await reader.read(1024):
                for request, size in frames.feed(data):
                    async with self._line_lock:
                        reply = await frames.reply_bytes(request, size)
                    self.requests_seen += 1
                    if reply is not None:
                        writer.write(reply)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def disconnect(self) -> None:
        """The gateway goes away: listener closed, open connections dropped."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        log.info("modbus sim tcp gateway down: %s:%s", self.host, self.port)

    async def reconnect(self) -> None:
        """The gateway is back on the same address."""
        await self.start()

    async def stop(self) -> None:
        await self.disconnect()
