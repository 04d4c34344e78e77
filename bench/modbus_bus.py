"""Bench: 16 T/H probes on one simulated 9600-baud RTU line (pseudo-terminal).

Polls as fast as the line allows and compares the achieved poll cycle (all 16 probes
once) with the theoretical bus time of those frames: (request + reply bytes) x bits
per character / baud, plus a 3.5-character silence before each frame. The simulator
writes every reply at the request's arrival plus its wire time (timed on a thread, not
the loop's millisecond timers), so the ratio shows the scheduler's own overhead plus
the pseudo-terminal's delivery latency (~0.1 ms each way).

Run: ``.venv/bin/python -m bench.modbus_bus [--probes 16] [--baud 9600] [--cycles 10]``
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from drivers.modbus.bus import ModbusScheduler
from drivers.modbus.config import ModbusRtuBusConfig
from drivers.modbus.decoding import plan_reads
from drivers.modbus.profiles import load_profiles
from drivers.modbus.transaction import bits_per_char, rtu_silence_s
from simulator.devices.modbus_devices import PtyRtuServer
from simulator.devices.modbus_physics import FridgeModel, ScenarioClock
from simulator.devices.modbus_scenarios import SimDevice, build_bus

TARGET_RATIO = 1.05  # issue 29: poll cycle within 5 % of the bus time
RTU_REQUEST_BYTES = 8  # slave, function, address(2), count(2), CRC(2)


def reply_bytes(function: str, count: int) -> int:
    """slave + function + byte count + data + CRC(2)."""
    data = (count + 7) // 8 if function in ("coils", "discrete") else 2 * count
    return 3 + data + 2


def theoretical_cycle_s(devices: list[SimDevice], baudrate: int) -> float:
    profiles = load_profiles()
    char_bits = bits_per_char(8, "N", 1)
    silence = rtu_silence_s(baudrate, char_bits)
    total = 0.0
    for device in devices:
        for block in plan_reads(profiles[device.profile]):
            frame_bytes = RTU_REQUEST_BYTES + reply_bytes(block.function, block.count)
            total += frame_bytes * char_bits / baudrate + 2 * silence
    return total


def bench_devices(count: int) -> list[SimDevice]:
    maps = ["xy-md02", "rs-ws-n01"]
    return [SimDevice(f"probe-{n:02d}", n, maps[n % 2], "fridge", FridgeModel()) for n in range(1, count + 1)]


async def measure(probes: int, baudrate: int, cycles: int) -> tuple[float, int]:
    """Achieved seconds per full cycle, measured after one warm-up cycle."""
    profiles = load_profiles()
    devices = bench_devices(probes)
    with tempfile.TemporaryDirectory() as tmp:
        server = PtyRtuServer(build_bus(ScenarioClock(), profiles, devices, baudrate=baudrate), Path(tmp) / "tty")
        port = await server.start()
        # poll_s far below the cycle time: every probe is always due, so the line never idles.
        config = ModbusRtuBusConfig(id="bench", port=port, baudrate=baudrate, timeout_s=0.5,
                                    devices=[d.device_config(0.001) for d in devices])
        readings: list = []
        scheduler = ModbusScheduler([config], on_reading=readings.append, profiles=profiles)
        await scheduler.start_async()
        loop = asyncio.get_running_loop()
        while len(readings) < probes:  # warm-up: port open, first cycle done
            await asyncio.sleep(0.005)
        start_count, started = len(readings), loop.time()
        while len(readings) < start_count + probes * cycles:
            await asyncio.sleep(0.002)
        elapsed = loop.time() - started
        done = len(readings) - start_count
        await scheduler.stop_async()
        await server.stop()
        errors = sum(c.timeouts + c.crc_errors + c.exceptions for c in scheduler.counters().values())
    return elapsed / (done / probes), errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=16)
    parser.add_argument("--baud", type=int, default=9600)
    parser.add_argument("--cycles", type=int, default=10)
    args = parser.parse_args(argv)
    achieved, errors = asyncio.run(measure(args.probes, args.baud, args.cycles))
    theory = theoretical_cycle_s(bench_devices(args.probes), args.baud)
    ratio = achieved / theory
    print(f"modbus bus bench: {args.probes} probes, RTU {args.baud} 8N1, {args.cycles} cycles")
    print(f"  theoretical cycle : {theory * 1000:8.1f} ms  (frames + 3.5-char gaps)")
    print(f"  achieved cycle    : {achieved * 1000:8.1f} ms  ({achieved / args.probes * 1000:.1f} ms per poll)")
    print(f"  ratio             : {ratio:8.3f}  (target <= {TARGET_RATIO})  {'OK' if ratio <= TARGET_RATIO else 'OVER'}")
    print(f"  wire errors       : {errors}")
    return 0 if ratio <= TARGET_RATIO and errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
