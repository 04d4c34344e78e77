"""Fault injection: bad frames and exception replies are counted and never become readings;
the bus recovers from a pulled adapter and a vanished TCP gateway."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from simulator.devices.modbus_devices import Fault
from simulator.devices.modbus_scenarios import canteen_devices
from tests.test_modbus_harness import running_rig

FAST = {"timeout_s": 0.1, "retries": 1, "backoff_max_s": 0.5, "reconnect_s": 0.1, "reconnect_max_s": 0.3}


@pytest.mark.parametrize("kind", ["rtu", "tcp"])
def test_bad_frames_and_exceptions_are_counted_not_read(kind: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_rig(canteen_devices(), kind=kind, tmp_path=tmp_path, poll_s=0.2, **FAST) as rig:
            await rig.wait_for(lambda: rig.readings_of("fridge-1") and rig.readings_of("fridge-2"))
            rig.bus.inject(1, Fault.CRC)  # every reply of slave 1 corrupted
            rig.bus.inject(2, Fault.EXCEPTION)  # slave 2 answers "device failure"
            await asyncio.sleep(0.1)  # let a poll already on the wire finish
            mark = len(rig.readings)
            await asyncio.sleep(1.2)
            window = rig.readings[mark:]
            assert not [r for r in window if r.device_id in ("fridge-1", "fridge-2")]
            assert {r.device_id for r in window} >= {"freezer-1", "cabinet-1", "uv-1"}
            counters = rig.scheduler.counters()
            assert counters["fridge-1"].crc_errors >= 2 and counters["fridge-1"].exceptions == 0
            assert counters["fridge-2"].exceptions >= 2 and counters["fridge-2"].crc_errors == 0
            assert rig.states_of("fridge-1")[-1] == rig.states_of("fridge-2")[-1] == "silent"

            rig.bus.clear_faults()
            mark = len(rig.readings)
            await rig.wait_for(lambda: {"fridge-1", "fridge-2"} <= {r.device_id for r in rig.readings[mark:]})
            assert rig.states_of("fridge-1")[-1] == rig.states_of("fridge-2")[-1] == "ok"

    asyncio.run(scenario())


def test_single_crc_error_is_retried_without_losing_the_poll(tmp_path: Path) -> None:
    async def scenario() -> None:
        # both faults may hit the same poll; a reply timeout well above a loaded machine's
        # scheduling delays, so the only timeout is the injected one
        options = {**FAST, "retries": 2, "timeout_s": 0.5}
        async with running_rig(canteen_devices()[:1], tmp_path=tmp_path, poll_s=0.2, **options) as rig:
            await rig.wait_for(lambda: len(rig.readings_of("fridge-1")) >= 2)
            rig.bus.inject(1, Fault.CRC, count=1)
            rig.bus.inject(1, Fault.TIMEOUT, count=1)
            await rig.wait_for(lambda: (c := rig.scheduler.counters()["fridge-1"]).crc_errors and c.timeouts, 5.0)
            counters = rig.scheduler.counters()["fridge-1"]
            assert counters.crc_errors == 1 and counters.timeouts == 1
            # Each failure was absorbed by a retry: between two polls (one may be on the
            # wire when the counters are read) every poll so far has ended ok.
            await rig.wait_for(lambda: (c := rig.scheduler.counters()["fridge-1"]).ok == c.polls, 2.0)
            assert rig.states_of("fridge-1") == ["ok"]

    asyncio.run(scenario())


def test_serial_adapter_unplug_and_replug_recovers(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_rig(canteen_devices(), kind="rtu", tmp_path=tmp_path, poll_s=0.2, **FAST) as rig:
            await rig.wait_for(lambda: len({r.device_id for r in rig.readings}) == 6)
            rig.server.unplug()
            await rig.wait_for(lambda: all(rig.states_of(d.device_id)[-1] == "disconnected"
                                           for d in canteen_devices()))
            await asyncio.sleep(0.5)  # port stays gone a while: reopen attempts fail quietly
            mark = len(rig.readings)
            assert not rig.readings[mark:]
            rig.server.replug()
            await rig.wait_for(lambda: len({r.device_id for r in rig.readings[mark:]}) == 6)
            assert all(rig.states_of(d.device_id) == ["ok", "disconnected", "ok"] for d in canteen_devices())

    asyncio.run(scenario())


def test_tcp_gateway_disconnect_and_reconnect() -> None:
    async def scenario() -> None:
        async with running_rig(canteen_devices()[:2], kind="tcp", poll_s=0.2, **FAST) as rig:
            await rig.wait_for(lambda: len(rig.readings) >= 2)
            await rig.server.disconnect()
            await rig.wait_for(lambda: rig.states_of("fridge-1")[-1] == "disconnected")
            await asyncio.sleep(0.3)
            await rig.server.reconnect()
            mark = len(rig.readings)
            await rig.wait_for(lambda: {"fridge-1", "fridge-2"} <= {r.device_id for r in rig.readings[mark:]})
            assert rig.states_of("fridge-1")[-1] == "ok"

    asyncio.run(scenario())
