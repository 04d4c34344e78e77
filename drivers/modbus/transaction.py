"""One Modbus request/reply over a byte link, framed by pymodbus, classified for counters.

pymodbus's own client folds a bad CRC into a timeout; the bus scheduler needs to tell
them apart (a noisy cable is not a dead probe) and to pace the line itself, so this
layer drives pymodbus's framers and PDU decoder directly.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol

from pymodbus.framer import FramerBase, FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU, ModbusPDU
from pymodbus.pdu.bit_message import ReadCoilsRequest, ReadDiscreteInputsRequest
from pymodbus.pdu.register_message import ReadHoldingRegistersRequest, ReadInputRegistersRequest

from .decoding import ReadBlock

log = logging.getLogger(__name__)

_REQUEST_CLASSES: dict[str, type[ModbusPDU]] = {
    "coils": ReadCoilsRequest,
    "discrete": ReadDiscreteInputsRequest,
    "holding": ReadHoldingRegistersRequest,
    "input": ReadInputRegistersRequest,
}


class ByteLink(Protocol):
    name: str
    last_rx_at: float  # loop time of the latest bytes received

    @property
    def is_open(self) -> bool: ...
    async def open(self) -> None: ...
    def close(self) -> None: ...
    def write(self, data: bytes) -> None: ...
    async def send(self, data: bytes, not_before: float) -> None:
        """Drop stale input, wait until loop time ``not_before``, write ``data``."""
    def discard_input(self) -> None: ...
    async def receive(self, deadline: float) -> bytes: ...


class Outcome(StrEnum):
    OK = "ok"
    TIMEOUT = "timeout"
    BAD_FRAME = "bad_frame"  # CRC error, truncated frame, wrong slave / function / tid
    EXCEPTION = "exception"  # the device answered with a Modbus exception response


@dataclass(frozen=True, slots=True)
class Reply:
    outcome: Outcome
    pdu: ModbusPDU | None = None
    exception_code: int = 0
    detail: str = ""
    round_trip_s: float = 0.0


def read_request(block: ReadBlock, slave: int) -> ModbusPDU:
    """The pymodbus request PDU that reads ``block`` from ``slave``."""
    return _REQUEST_CLASSES[block.function](address=block.address, count=block.count, dev_id=slave)


def bits_per_char(bytesize: int, parity: str, stopbits: int) -> int:
    """Start bit + data bits + optional parity bit + stop bits."""
    return 1 + bytesize + (0 if parity == "N" else 1) + stopbits


def rtu_silence_s(baudrate: int, char_bits: int) -> float:
    """The 3.5-character inter-frame silence; fixed at 1.75 ms above 19200 baud (spec)."""
    if baudrate > 19200:
        return 0.00175
    return 3.5 * char_bits / baudrate


class Transactor:
    """Sends one request at a time over ``link`` and waits for its reply.

    ``gap_s`` is the silence kept on the line between the end of one exchange and the
    start of the next (3.5 characters plus any configured extra for RTU).
    """

    def __init__(self, link: ByteLink, framing: Literal["rtu", "socket"], gap_s: float) -> None:
        self.link = link
        self.gap_s = gap_s
        self._framer: FramerBase = (FramerRTU if framing == "rtu" else FramerSocket)(DecodePDU(False))
        self._uses_tid = framing == "socket"
        self._next_tid = 0
        self._quiet_until = 0.0

    async def transact(self, request: ModbusPDU, timeout_s: float) -> Reply:
        loop = asyncio.get_running_loop()
        request.transaction_id = self._tid()
        frame = self._framer.buildFrame(request)
        # send() drops bytes heard before the frame goes out (a late reply to a request
        # we already gave up on) and keeps the line silent until _quiet_until.
        await self.link.send(frame, self._quiet_until)
        started = loop.time()
        try:
            reply = await self._await_reply(request, started + timeout_s)
        finally:
            # The silence runs from the last byte heard (or from now, if the line stayed
            # quiet): the slave's reply ended on the wire no later than that.
            heard = self.link.last_rx_at
            self._quiet_until = (heard if heard > started else loop.time()) + self.gap_s
        return Reply(reply.outcome, reply.pdu, reply.exception_code, reply.detail, loop.time() - started)

    def _tid(self) -> int:
        if not self._uses_tid:
            return 0
        self._next_tid = self._next_tid % 65000 + 1
        return self._next_tid

    async def _await_reply(self, request: ModbusPDU, deadline: float) -> Reply:
        buffer = b""
        while True:
            data = await self.link.receive(deadline)
            if not data:
                if buffer:
                    return Reply(Outcome.BAD_FRAME, detail=f"incomplete frame {buffer.hex(' ')}")
                return Reply(Outcome.TIMEOUT)
            buffer += data
            if (reply := self._parse(buffer, request)) is not None:
                return reply

    def _parse(self, buffer: bytes, request: ModbusPDU) -> Reply | None:
        used, dev_id, tid, frame = self._framer.decode(buffer)
        if not used:
            return None  # wait for more bytes
        if not frame:
            return Reply(Outcome.BAD_FRAME, detail=f"crc/framing error {buffer.hex(' ')}")
        if dev_id != request.dev_id or (self._uses_tid and tid != request.transaction_id):
            return Reply(Outcome.BAD_FRAME, detail=f"reply for slave {dev_id} tid {tid}")
        pdu = self._framer.decoder.decode(frame)
        if pdu is None:
            return Reply(Outcome.BAD_FRAME, detail=f"undecodable pdu {frame.hex(' ')}")
        if pdu.function_code == request.function_code | 0x80:
            return Reply(Outcome.EXCEPTION, pdu, exception_code=pdu.exception_code)
        if pdu.function_code != request.function_code:
            return Reply(Outcome.BAD_FRAME, detail=f"reply function {pdu.function_code}")
        return Reply(Outcome.OK, pdu)
