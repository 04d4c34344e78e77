"""End to end: simulated canteen Modbus line (pty RTU / TCP gateway) → scheduler → Agent's bus →
workflows → records, alarms and telemetry in the store.

The simulator's ScenarioClock runs ``SPEED`` times faster than real time and the agent's
``now`` is read from it, so readings carry scenario times: a 50-minute canteen scenario
takes well under half a minute. Only the reading bus and the Modbus component are started
(no uplink, no scheduler).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.app import Agent
from agent.core.recorder import ClockMonitor
from agent.workflows.cold_chain import hourly_stats
from simulator.devices.modbus_cli import CanteenModbus
from simulator.devices.modbus_physics import FridgeModel, ScenarioClock
from simulator.devices.modbus_scenarios import SimDevice
from tests.conftest import TZ, make_config

SPEED = 120.0  # scenario seconds per real second
POLL_S = 0.25  # real seconds: a reading every 30 scenario seconds
BASE = datetime(2026, 11, 30, 13, 5, tzinfo=TZ)  # the cabinets start just after lunch


class SimThread:
    """``CanteenModbus`` served from its own thread and event loop."""

    def __init__(self, clock: ScenarioClock, **options: Any) -> None:
        self.canteen = CanteenModbus(clock, **options)
        self._ready = threading.Event()
        self._stop = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.canteen.start()
        self._ready.set()
        while not self._stop.is_set():
            await asyncio.sleep(0.05)
        await self.canteen.stop()

    def __enter__(self) -> CanteenModbus:
        self._thread.start()
        assert self._ready.wait(10), "simulator did not start"
        return self.canteen

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def call(self, coro_fn: Callable[[], Any]) -> None:
        """Run a coroutine of the simulator (gateway disconnect ...) on its loop."""
        assert self.loop is not None
        asyncio.run_coroutine_threadsafe(coro_fn(), self.loop).result(5)


class RunningAgent:
    """An Agent on the scenario clock with only its reading bus and Modbus component running."""

    def __init__(self, tmp_path: Path, clock: ScenarioClock, modbus: list[dict[str, Any]], **sections: Any) -> None:
        config = make_config(tmp_path, modbus=modbus, **sections)
        self.clock = clock
        self.agent = Agent(config, now=self.now, monotonic=clock.now, clock=ClockMonitor(lambda: (True, "test")))
        for component in self.agent.components:
            if component.name in ("reading-bus", "modbus"):
                self.agent.supervisor.start(component)
        self.store = self.agent.store

    def now(self) -> datetime:
        return BASE + timedelta(seconds=self.clock.now())

    def halt(self) -> None:
        """Stop polling and dispatching; the store stays open for the assertions."""
        self.agent.supervisor.stop()

    def close(self) -> None:
        self.agent.stop()

    def records(self, type_: str) -> list[dict[str, Any]]:
        return list(self.store.iter_records(type_=type_))

    def alarms(self, kind: str) -> list[dict[str, Any]]:
        return [a for a in self.records("alarm") if a["data"]["kind"] == kind]

    def wait(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"not reached in {timeout_s}s: {what} (scenario t={self.clock.now():.0f}s)")
            time.sleep(0.1)


def test_canteen_line_over_pty_rtu_to_records_and_alarms(tmp_path: Path) -> None:
    clock = ScenarioClock(speed=SPEED)
    with SimThread(clock) as canteen:
        modbus = canteen.config(poll_s=POLL_S)
        # the simulated UV run is exactly 30 min; sampled edges make it 30 +- 0.5: judge against 25
        agent = RunningAgent(tmp_path, clock, modbus, rules={"premises": {"uv_min_minutes": 25}})
        try:
            agent.wait(lambda: clock.now() >= 3150 and len(agent.records("tableware_disinfection")) >= 2,
                       60, "both cabinet cycles recorded")
            agent.wait(lambda: len(agent.records("premises_disinfection")) >= 2, 20, "UV and ozone runs")
        finally:
            agent.halt()
    try:
        check_canteen_records(agent)
    finally:
        agent.close()


def check_canteen_records(agent: RunningAgent) -> None:
    cycles = {r["data"]["device_id"]: r for r in agent.records("tableware_disinfection")}
    good, weak = cycles["cabinet-1"], cycles["cabinet-2"]
    assert good["verdict"] == "pass", good
    assert good["data"]["seconds_at_target"] >= 850 and good["data"]["meal"] == "lunch"
    assert weak["verdict"] == "fail" and weak["findings"] == ["cabinet_below_target"]
    [failed] = agent.alarms("disinfection_failed")
    assert failed["data"]["subject"] == {"device_id": "cabinet-2", "cycle_id": weak["id"]}

    runs = {r["data"]["method"]: r for r in agent.records("premises_disinfection")}
    assert runs["uv_lamp"]["verdict"] == "pass" and runs["uv_lamp"]["data"]["room"] == "kitchen"
    assert runs["uv_lamp"]["data"]["minutes"] == pytest.approx(30, abs=1.1)
    assert runs["ozone"]["verdict"] == "fail" and runs["ozone"]["data"]["room"] == "store_room"
    assert runs["ozone"]["data"]["minutes"] == pytest.approx(10, abs=1.1)

    # the failing fridge alarms; the door openings of fridge-1 and the freezer do not
    cold = [a["data"]["subject"]["device_id"] for a in agent.alarms("cold_chain_high")]
    assert cold == ["fridge-2"]
    assert agent.alarms("cold_chain_low") == [] and agent.alarms("device_offline") == []

    batches = [json.loads(row["payload"]) for row in agent.store.query(
        "SELECT payload FROM outbox WHERE kind='telemetry' AND ref='fridge-1' ORDER BY n")]
    times = [datetime.fromisoformat(s["t"]) for b in batches for s in b["samples"]]
    minutes = [t.replace(second=0, microsecond=0) for t in times]
    assert len(times) >= 30 and minutes == sorted(set(minutes))  # at most one sample per minute
    hours = hourly_stats(agent.store, "2026-11-30")
    assert set(hours) == {"fridge-1", "fridge-2", "freezer-1"}
    assert max(h["max_c"] for h in hours["fridge-2"]) > 8.0 and max(h["max_c"] for h in hours["freezer-1"]) < -12


def test_tcp_gateway_probe_offline_raises_and_clears(tmp_path: Path) -> None:
    clock = ScenarioClock(speed=SPEED)
    devices = [SimDevice("fridge-1", 1, "xy-md02", "fridge", FridgeModel()),
               SimDevice("fridge-3", 2, "xy-md02", "fridge", FridgeModel())]
    sim = SimThread(clock, devices=devices, tcp_port=0)
    with sim as canteen:
        modbus = canteen.config(poll_s=POLL_S)
        modbus[0].update(timeout_s=0.1, backoff_max_s=1.0)
        agent = RunningAgent(tmp_path, clock, modbus)
        try:
            agent.wait(lambda: agent.store.query("SELECT 1 FROM telemetry WHERE device_id='fridge-3'"), 10,
                       "first readings")
            canteen.bus.set_offline(2)  # fridge-3's probe stops answering
            agent.wait(lambda: agent.alarms("device_offline"), 20, "device_offline for fridge-3")
            [raised] = agent.alarms("device_offline")
            assert raised["data"]["subject"] == {"device_id": "fridge-3"}
            assert raised["data"]["details"]["state"] == "silent"
            canteen.bus.set_offline(2, False)
            agent.wait(lambda: len(agent.alarms("device_offline")) == 2, 20, "device_offline cleared")

            sim.call(canteen.tcp.disconnect)  # the whole gateway goes away
            agent.wait(lambda: len(agent.alarms("device_offline")) == 4, 20, "both probes offline")
            sim.call(canteen.tcp.reconnect)
            agent.wait(lambda: len(agent.alarms("device_offline")) == 6, 30, "both back")
        finally:
            agent.halt()
    try:
        check_offline_alarms(agent)
    finally:
        agent.close()


def check_offline_alarms(agent: RunningAgent) -> None:
    states = [(a["data"]["subject"]["device_id"], a["data"]["state"]) for a in agent.alarms("device_offline")]
    assert states[:2] == [("fridge-3", "raised"), ("fridge-3", "cleared")]
    assert sorted(states[2:4]) == [("fridge-1", "raised"), ("fridge-3", "raised")]
    assert sorted(states[4:]) == [("fridge-1", "cleared"), ("fridge-3", "cleared")]
    assert agent.store.open_alarms() == [] and agent.alarms("cold_chain_high") == []


def test_probe_subcommand_and_demo_config_fit_the_served_line(tmp_path: Path, capsys) -> None:
    from agent.cli.main import main as agent_cli

    with SimThread(ScenarioClock(), rtu_link=tmp_path / "ttyCANTEEN", tcp_port=0) as canteen:
        for via in ("rtu", "tcp"):  # the printed demo config is a valid agent config, roles included
            agent = RunningAgent(tmp_path / via, ScenarioClock(speed=0), canteen.config(via=via))
            agent.halt()
            agent.close()
        code = agent_cli(["probe", "--port", str(tmp_path / "ttyCANTEEN"), "--baud", "9600", "--parity", "N",
                          "--slaves", "1-6"])
    out = capsys.readouterr().out
    assert code == 0
    for slave, profile in ((1, "xy-md02"), (3, "rs-ws-n01"), (4, "cabinet-pt100"), (6, "di-module-4ch")):
        assert any(f"slave {slave:3d}" in line and profile in line for line in out.splitlines()), out
