"""Serve the canteen's simulated Modbus equipment for the demo: a pty RTU line and/or a TCP gateway.

For the simulator CLI (``simulator/cli.py``):

- ``add_modbus_arguments(parser)`` adds ``--rtu-link PATH``, ``--tcp-port N``,
  ``--speed X``, ``--poll-s S`` and ``--print-config``;
- ``serve_modbus(args, stop=None) -> int`` serves until ``stop`` is set (or Ctrl-C)
  and prints where the line is and the agent's ``modbus:`` config for it;
- ``extend(subparsers)`` adds both as ``canteen-sim modbus`` (append it to
  ``simulator.cli.SUBCOMMANDS``).

Code can use ``CanteenModbus`` directly (``await start()`` / ``await stop()``) and
``canteen_modbus_config(...)`` for the matching agent config section.
The devices are ``simulator.devices.modbus_scenarios.canteen_devices()``; the scenario clock
runs ``--speed`` times faster than real time (60: one scenario hour per minute).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drivers.modbus.profiles import load_profiles

from .modbus_devices import PtyRtuServer, SimulatedBus, TcpGatewayServer
from .modbus_physics import ScenarioClock
from .modbus_scenarios import SimDevice, build_bus, canteen_devices

log = logging.getLogger(__name__)

# What each canteen device is for, beyond its role (pass-through fields of ModbusDeviceConfig).
CANTEEN_ROLE_FIELDS: dict[str, dict[str, Any]] = {
    "fridge-1": {"room": "kitchen"},
    "fridge-2": {"room": "sample_fridge"},
    "freezer-1": {"room": "cold_store"},
    "cabinet-1": {"method": "infrared_cabinet"},
    "cabinet-2": {"method": "infrared_cabinet"},
    # a 4-input module: input 1 the kitchen UV lamp, input 2 the store room's ozone generator
    "uv-1": {"room": "kitchen", "point": "run",
             "channels": [{"point": "run_2", "role": "ozone", "room": "store_room"}]},
}


def device_configs(devices: list[SimDevice], poll_s: float) -> list[dict[str, Any]]:
    """Agent-side ``ModbusDeviceConfig`` dicts for ``devices`` with their role fields."""
    return [{**d.device_config(poll_s), **CANTEEN_ROLE_FIELDS.get(d.device_id, {})} for d in devices]


def canteen_modbus_config(*, rtu_port: str | None = None, tcp: tuple[str, int] | None = None,
                          poll_s: float = 10.0, devices: list[SimDevice] | None = None) -> list[dict[str, Any]]:
    """The agent's ``modbus:`` section: one bus per way given (give one: device ids must be unique)."""
    devices = devices if devices is not None else canteen_devices()
    section: list[dict[str, Any]] = []
    if rtu_port is not None:
        section.append({"kind": "modbus_rtu", "id": "canteen-line", "port": rtu_port, "baudrate": 9600,
                        "devices": device_configs(devices, poll_s)})
    if tcp is not None:
        section.append({"kind": "modbus_tcp", "id": "canteen-gateway", "host": tcp[0], "port": tcp[1],
                        "devices": device_configs(devices, poll_s)})
    return section


@dataclass
class CanteenModbus:
    """The canteen's devices on one simulated line, behind a pty and/or a TCP gateway."""

    clock: ScenarioClock
    devices: list[SimDevice] = field(default_factory=canteen_devices)
    rtu_link: Path | None = None
    tcp_port: int | None = None  # 0: a free port
    bus: SimulatedBus | None = None
    rtu: PtyRtuServer | None = None
    tcp: TcpGatewayServer | None = None

    async def start(self) -> CanteenModbus:
        self.bus = build_bus(self.clock, load_profiles(), self.devices, baudrate=9600)
        if self.rtu_link is not None or self.tcp_port is None:
            self.rtu = PtyRtuServer(self.bus, self.rtu_link)
            await self.rtu.start()
        if self.tcp_port is not None:
            self.tcp = TcpGatewayServer(self.bus, port=self.tcp_port)
            await self.tcp.start()
        return self

    async def stop(self) -> None:
        for server in (self.rtu, self.tcp):
            if server is not None:
                await server.stop()

    def config(self, poll_s: float = 10.0, via: str | None = None) -> list[dict[str, Any]]:
        """The agent's ``modbus:`` section reaching the devices one way (device ids are unique
        per agent): ``via`` "rtu" or "tcp", by default the pty when there is one."""
        use_tcp = via == "tcp" or (via is None and self.rtu is None)
        if use_tcp and self.tcp is None or not use_tcp and self.rtu is None:
            raise ValueError(f"not serving over {via}")
        if use_tcp:
            assert self.tcp is not None
            return canteen_modbus_config(tcp=(self.tcp.host, self.tcp.port), poll_s=poll_s, devices=self.devices)
        assert self.rtu is not None
        return canteen_modbus_config(rtu_port=self.rtu.path, poll_s=poll_s, devices=self.devices)


def add_modbus_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rtu-link", type=Path, help="serve the RTU line behind this symlink (default: a bare pty)")
    parser.add_argument("--tcp-port", type=int, help="also (or only, without --rtu-link) serve a TCP gateway; 0 = free port")
    parser.add_argument("--speed", type=float, default=1.0, help="scenario seconds per real second")
    parser.add_argument("--poll-s", type=float, default=10.0, help="poll interval written into the printed config")
    parser.add_argument("--print-config", action="store_true",
                        help="print the agent's modbus: section as YAML (over the pty if served, else TCP)")


def serve_modbus(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """Serve until ``stop`` is set or Ctrl-C; 0 on a clean stop."""
    stop = stop or threading.Event()

    async def main() -> None:
        canteen = CanteenModbus(ScenarioClock(speed=getattr(args, "speed", 1.0)),
                                rtu_link=getattr(args, "rtu_link", None), tcp_port=getattr(args, "tcp_port", None))
        await canteen.start()
        if canteen.rtu:
            print(f"modbus rtu line: {canteen.rtu.path} (9600 8N1)", flush=True)
        if canteen.tcp:
            print(f"modbus tcp gateway: {canteen.tcp.host}:{canteen.tcp.port}", flush=True)
        if getattr(args, "print_config", False):
            print(yaml.safe_dump({"modbus": canteen.config(getattr(args, "poll_s", 10.0))},
                                 allow_unicode=True, sort_keys=False), flush=True)
        try:
            while not stop.is_set():
                await asyncio.sleep(0.1)
        finally:
            await canteen.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0


def extend(subparsers: Any) -> None:
    """``canteen-sim modbus``: for ``simulator.cli.SUBCOMMANDS``."""
    p = subparsers.add_parser("modbus", help="serve the canteen's Modbus devices on a pty and/or TCP",
                              description=__doc__.splitlines()[0].replace("``", ""))
    add_modbus_arguments(p)
    p.set_defaults(fn=serve_modbus)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="modbus-sim", description=__doc__.splitlines()[0].replace("``", ""))
    add_modbus_arguments(parser)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return serve_modbus(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
