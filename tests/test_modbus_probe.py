"""probe() finds which slaves answer with which known register map."""

from __future__ import annotations

import asyncio
from pathlib import Path

from drivers.modbus import probe as probe_module
from drivers.modbus.probe import probe_async
from simulator.devices.modbus_devices import PtyRtuServer, TcpGatewayServer
from simulator.devices.modbus_physics import (
    FridgeModel,
    RunContactsModel,
    ScenarioClock,
    freezer_model,
)
from simulator.devices.modbus_scenarios import SimDevice, build_bus
from tests.test_modbus_harness import PROFILES

DEVICES = [
    SimDevice("a", 3, "xy-md02", "fridge", FridgeModel()),
    SimDevice("b", 5, "rs-ws-n01", "freezer", freezer_model()),
    SimDevice("c", 6, "di-module-4ch", "uv_lamp", RunContactsModel({"run": [(0, 1e9)]})),
]


def _found(rows) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for row in rows:
        found.setdefault(row.slave, set()).update(row.profiles)
    return found


def test_probe_finds_slaves_and_maps_on_rtu(tmp_path: Path) -> None:
    async def scenario() -> list:
        server = PtyRtuServer(build_bus(ScenarioClock(), PROFILES, DEVICES), tmp_path / "tty")
        port = await server.start()
        try:
            return await probe_async(port, baudrates=(9600,), parities=("N",), slaves=range(1, 8),
                                     timeout_s=0.1, profiles=PROFILES)
        finally:
            await server.stop()

    rows = asyncio.run(scenario())
    found = _found(rows)
    assert set(found) == {3, 5, 6}
    assert "xy-md02" in found[3]
    assert "rs-ws-n01" in found[5]
    assert "di-module-4ch" in found[6]
    assert all(row.baudrate == 9600 and row.parity == "N" for row in rows)
    freezer = next(r for r in rows if r.slave == 5 and "rs-ws-n01" in r.profiles)
    assert freezer.values["temperature_c"] < -12


def test_probe_over_tcp_and_cli_output(capsys) -> None:
    async def scenario() -> tuple[int, str]:
        server = TcpGatewayServer(build_bus(ScenarioClock(), PROFILES, DEVICES[:1]))
        host, port = await server.start()
        try:
            loop = asyncio.get_running_loop()
            code = await loop.run_in_executor(None, probe_module.main, [
                "--port", f"tcp://{host}:{port}", "--slaves", "2-4", "--timeout", "0.1"])
            return code, capsys.readouterr().out
        finally:
            await server.stop()

    code, out = asyncio.run(scenario())
    assert code == 0
    assert "slave   3" in out and "xy-md02" in out
