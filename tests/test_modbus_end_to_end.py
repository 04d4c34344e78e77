"""Simulated canteen line -> bus scheduler -> RegisterSample readings, over RTU (pty) and TCP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from simulator.devices.modbus_scenarios import canteen_devices
from tests.test_modbus_harness import Rig, running_rig

EXPECTED_KEYS = {
    "fridge-1": {"temperature_c", "humidity_pct"},
    "fridge-2": {"temperature_c", "humidity_pct"},
    "freezer-1": {"temperature_c", "humidity_pct"},
    "cabinet-1": {"temperature_c"},
    "cabinet-2": {"temperature_c"},
    "uv-1": {"run", "run_2", "run_3", "run_4"},
}


async def _fresh_readings(rig: Rig) -> dict[str, dict[str, float]]:
    """The first reading of every device taken after this call."""
    mark = len(rig.readings)
    await rig.wait_for(lambda: {r.device_id for r in rig.readings[mark:]} >= set(EXPECTED_KEYS))
    fresh: dict[str, dict[str, float]] = {}
    for reading in rig.readings[mark:]:
        fresh.setdefault(reading.device_id, reading.values)
    return fresh


async def _check_canteen_line(rig: Rig) -> None:
    at_start = await _fresh_readings(rig)
    assert {k: set(v) for k, v in at_start.items()} == EXPECTED_KEYS
    assert 2.0 <= at_start["fridge-1"]["temperature_c"] <= 8.0
    assert at_start["freezer-1"]["temperature_c"] < -12.0
    assert at_start["cabinet-1"]["temperature_c"] == pytest.approx(25.0, abs=0.2)
    assert at_start["uv-1"]["run"] == 0.0

    rig.clock.advance(1200)  # 20 scenario minutes later
    later = await _fresh_readings(rig)
    assert later["cabinet-1"]["temperature_c"] == pytest.approx(125.0, abs=1.2)
    assert later["cabinet-2"]["temperature_c"] < 97.0  # the aborted run never reaches target
    assert later["uv-1"]["run"] == 1.0

    rig.clock.advance(3000)
    much_later = await _fresh_readings(rig)
    assert much_later["fridge-2"]["temperature_c"] > 8.0  # the failing fridge
    assert 2.0 <= much_later["fridge-1"]["temperature_c"] <= 8.0

    counters = rig.scheduler.counters()
    assert all(c.timeouts == c.crc_errors == c.exceptions == 0 for c in counters.values())
    assert all(rig.states_of(device_id) == ["ok"] for device_id in EXPECTED_KEYS)


def test_rtu_over_pty_all_profiles(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_rig(canteen_devices(), kind="rtu", tmp_path=tmp_path, poll_s=0.3) as rig:
            await _check_canteen_line(rig)

    asyncio.run(scenario())


def test_tcp_gateway_all_profiles() -> None:
    async def scenario() -> None:
        async with running_rig(canteen_devices(), kind="tcp", poll_s=0.3) as rig:
            await _check_canteen_line(rig)

    asyncio.run(scenario())


def test_thread_mode_start_stop(tmp_path: Path) -> None:
    """start()/stop() without a caller loop: the scheduler owns a thread."""
    import threading
    import time

    from drivers.modbus.bus import ModbusScheduler
    from drivers.modbus.config import ModbusRtuBusConfig
    from simulator.devices.modbus_devices import PtyRtuServer
    from simulator.devices.modbus_physics import ScenarioClock
    from simulator.devices.modbus_scenarios import build_bus
    from tests.test_modbus_harness import PROFILES

    devices = canteen_devices()[:2]
    ready = threading.Event()
    stop_sim = threading.Event()
    paths: list[str] = []

    def simulator_thread() -> None:
        async def serve() -> None:
            server = PtyRtuServer(build_bus(ScenarioClock(), PROFILES, devices), tmp_path / "tty")
            paths.append(await server.start())
            ready.set()
            while not stop_sim.is_set():
                await asyncio.sleep(0.05)
            await server.stop()

        asyncio.run(serve())

    sim = threading.Thread(target=simulator_thread, daemon=True)
    sim.start()
    assert ready.wait(5)
    readings: list = []
    config = ModbusRtuBusConfig(id="t", port=paths[0], devices=[d.device_config(0.2) for d in devices])
    scheduler = ModbusScheduler([config], on_reading=readings.append, profiles=PROFILES)
    scheduler.start()
    deadline = time.monotonic() + 5
    while len({r.device_id for r in readings}) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    scheduler.stop()
    stop_sim.set()
    sim.join(5)
    assert {r.device_id for r in readings} == {"fridge-1", "fridge-2"}
