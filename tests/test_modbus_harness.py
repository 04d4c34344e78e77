"""Shared harness for the Modbus tests: simulated line + server + scheduler (no tests here)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from drivers.modbus.bus import ModbusScheduler
from drivers.modbus.config import ModbusRtuBusConfig, ModbusTcpBusConfig
from drivers.modbus.profiles import load_profiles
from drivers.readings import DeviceHealth, Reading, RegisterSample
from simulator.devices.modbus_devices import PtyRtuServer, SimulatedBus, TcpGatewayServer
from simulator.devices.modbus_physics import ScenarioClock
from simulator.devices.modbus_scenarios import SimDevice, build_bus

PROFILES = load_profiles()


@dataclass
class Rig:
    bus: SimulatedBus
    server: PtyRtuServer | TcpGatewayServer
    scheduler: ModbusScheduler
    clock: ScenarioClock
    readings: list[RegisterSample] = field(default_factory=list)
    health: list[DeviceHealth] = field(default_factory=list)

    def readings_of(self, device_id: str) -> list[RegisterSample]:
        return [r for r in self.readings if r.device_id == device_id]

    def states_of(self, device_id: str) -> list[str]:
        return [h.state.value for h in self.health if h.device_id == device_id]

    async def wait_for(self, condition, timeout_s: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not condition():
            if loop.time() > deadline:
                raise AssertionError("condition not met in time")
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running_rig(devices: list[SimDevice], *, kind: str = "rtu", tmp_path: Path | None = None,
                      poll_s: float = 0.2, baudrate: int = 9600, speed: float = 1.0,
                      **bus_options: object) -> AsyncIterator[Rig]:
    clock = ScenarioClock(speed=speed)
    bus = build_bus(clock, PROFILES, devices, baudrate=baudrate)
    device_configs = [d.device_config(poll_s) for d in devices]
    server: PtyRtuServer | TcpGatewayServer
    if kind == "rtu":
        server = PtyRtuServer(bus, (tmp_path / "ttyMODBUS") if tmp_path else None)
        port = await server.start()
        config = ModbusRtuBusConfig(id="line-1", port=port, baudrate=baudrate,
                                    devices=device_configs, **bus_options)
    else:
        server = TcpGatewayServer(bus)
        host, tcp_port = await server.start()
        config = ModbusTcpBusConfig(id="gw-1", host=host, port=tcp_port,
                                    devices=device_configs, **bus_options)
    readings: list[Reading] = []
    health: list[DeviceHealth] = []
    scheduler = ModbusScheduler([config], on_reading=readings.append, on_health=health.append,
                                profiles=PROFILES)
    rig = Rig(bus, server, scheduler, clock, readings, health)  # type: ignore[arg-type]
    await scheduler.start_async()
    try:
        yield rig
    finally:
        await scheduler.stop_async()
        await server.stop()
