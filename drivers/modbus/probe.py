"""Find what answers on a Modbus line: baud rates x parities x slave ids x known register maps.

``canteen-agent probe --port PORT`` calls ``main``; code calls ``probe`` (rows back).
A port of the form ``tcp://host:port`` scans slave ids behind a TCP gateway instead.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .decoding import ReadBlock, decode_block, plan_reads
from .links import LinkLost, SerialLink, TcpLink
from .profiles import DeviceProfile, load_profiles
from .transaction import ByteLink, Outcome, Transactor, bits_per_char, read_request, rtu_silence_s

log = logging.getLogger(__name__)

DEFAULT_BAUDRATES = (4800, 9600, 19200)
DEFAULT_PARITIES = ("N", "E")
# Register-map reads first: the T/H probes are by far the most common devices.
_FUNCTION_ORDER = {"holding": 0, "input": 1, "discrete": 2, "coils": 3}


@dataclass(frozen=True, slots=True)
class ProbeRow:
    """One answer: where it came from and what it means under each matching profile."""

    baudrate: int | None  # None behind a TCP gateway
    parity: str | None
    slave: int
    function: str
    address: int
    count: int
    profiles: tuple[str, ...] = ()
    values: dict[str, float] = field(default_factory=dict)
    exception_code: int = 0

    def describe(self) -> str:
        line = "" if self.baudrate is None else f"{self.baudrate} 8{self.parity}1 "
        line += f"slave {self.slave:3d} {self.function}@{self.address}x{self.count}: "
        if self.exception_code:
            return line + f"exception {self.exception_code} (device present, map differs)"
        return line + f"{'/'.join(self.profiles)} {self.values}"


def _signatures(profiles: Mapping[str, DeviceProfile]) -> list[tuple[ReadBlock, list[DeviceProfile]]]:
    """Distinct first reads of the known maps, with the profiles each one fits."""
    by_request: dict[tuple[str, int, int], tuple[ReadBlock, list[DeviceProfile]]] = {}
    for profile in profiles.values():
        block = plan_reads(profile)[0]
        key = (block.function, block.address, block.count)
        by_request.setdefault(key, (block, []))[1].append(profile)
    return sorted(by_request.values(), key=lambda item: (_FUNCTION_ORDER[item[0].function], item[0].address))


async def _scan_slave(transactor: Transactor, slave: int, signatures: Sequence[tuple[ReadBlock, list[DeviceProfile]]],
                      timeout_s: float, absent_after: int, where: tuple[int | None, str | None]) -> list[ProbeRow]:
    rows: list[ProbeRow] = []
    silent = 0
    for block, fitting in signatures:
        reply = await transactor.transact(read_request(block, slave), timeout_s)
        base: dict[str, Any] = {"baudrate": where[0], "parity": where[1], "slave": slave, "function": block.function,
                "address": block.address, "count": block.count}
        if reply.outcome is Outcome.OK and reply.pdu is not None:
            words = list(reply.pdu.bits if block.is_bits else reply.pdu.registers)
            values = decode_block(block, words)
            rows.append(ProbeRow(**base, profiles=tuple(p.id for p in fitting), values=values))
        elif reply.outcome is Outcome.EXCEPTION:
            rows.append(ProbeRow(**base, exception_code=reply.exception_code))
        elif not rows:
            silent += 1
            if silent >= absent_after:
                break  # nobody home at this id (and these settings)
    return rows


async def _scan_link(link: ByteLink, framing: str, gap_s: float, slaves: Iterable[int],
                     signatures: Sequence[tuple[ReadBlock, list[DeviceProfile]]], timeout_s: float,
                     absent_after: int, where: tuple[int | None, str | None]) -> list[ProbeRow]:
    try:
        await link.open()
    except LinkLost as exc:
        log.warning("modbus probe cannot open %s: %s", link.name, exc)
        return []
    transactor = Transactor(link, framing, gap_s)  # type: ignore[arg-type]
    rows: list[ProbeRow] = []
    try:
        for slave in slaves:
            rows += await _scan_slave(transactor, slave, signatures, timeout_s, absent_after, where)
    finally:
        link.close()
    return rows


async def probe_async(port: str, *, baudrates: Sequence[int] = DEFAULT_BAUDRATES,
                      parities: Sequence[str] = DEFAULT_PARITIES, slaves: Iterable[int] = range(1, 11),
                      timeout_s: float = 0.15, absent_after: int = 2,
                      profiles: Mapping[str, DeviceProfile] | None = None) -> list[ProbeRow]:
    """Scan ``port``; a slave silent to ``absent_after`` different reads is skipped."""
    signatures = _signatures(profiles if profiles is not None else load_profiles())
    slave_ids = list(slaves)
    if port.startswith("tcp://"):
        host, _, tcp_port = port.removeprefix("tcp://").rpartition(":")
        link: TcpLink | SerialLink = TcpLink(host, int(tcp_port or 502))
        return await _scan_link(link, "socket", 0.0, slave_ids, signatures, timeout_s, absent_after, (None, None))
    rows: list[ProbeRow] = []
    for baudrate in baudrates:
        for parity in parities:
            log.info("modbus probe: %s %s 8%s1", port, baudrate, parity)
            link = SerialLink(port, baudrate=baudrate, parity=parity, stopbits=1, bytesize=8)
            gap = rtu_silence_s(baudrate, bits_per_char(8, parity, 1))
            rows += await _scan_link(link, "rtu", gap, slave_ids, signatures, timeout_s, absent_after,
                                     (baudrate, parity))
    return rows


def probe(port: str, **options: object) -> list[ProbeRow]:
    """Blocking ``probe_async`` for callers without an event loop."""
    return asyncio.run(probe_async(port, **options))  # type: ignore[arg-type]


def _slave_range(text: str) -> range:
    first, _, last = text.partition("-")
    return range(int(first), int(last or first) + 1)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: print every answer; exit 0 if anything answered, 1 otherwise."""
    parser = argparse.ArgumentParser(
        prog="canteen-agent probe",
        description="Find what answers on a Modbus line: every baud rate, parity, slave id and known "
                    "register map. A port of the form tcp://host:port scans the slave ids behind a "
                    "Modbus TCP gateway instead.")
    parser.add_argument("--port", required=True, help="serial port path, or tcp://host:port")
    parser.add_argument("--baud", type=int, action="append", help="baud rate (repeatable)")
    parser.add_argument("--parity", action="append", choices=["N", "E", "O"], help="parity (repeatable)")
    parser.add_argument("--slaves", default="1-10", help="slave id range, e.g. 1-10 or 5")
    parser.add_argument("--timeout", type=float, default=0.15, help="reply timeout in seconds")
    parser.add_argument("--thorough", action="store_true", help="try every known map on every slave id")
    args = parser.parse_args(argv)
    if not args.port.startswith("tcp://") and not os.path.exists(args.port):
        print(f"no such port: {args.port} (plugged in? ls -l /dev/serial/by-id/ lists the adapters)",
              file=sys.stderr)
        return 2
    rows = probe(args.port, baudrates=args.baud or DEFAULT_BAUDRATES, parities=args.parity or DEFAULT_PARITIES,
                 slaves=_slave_range(args.slaves), timeout_s=args.timeout,
                 absent_after=10**6 if args.thorough else 2)
    for row in rows:
        print(row.describe())
    if not rows:
        print(f"nothing answered on {args.port}")
    return 0 if rows else 1
