"""``canteen-agent doctor`` on a live box: with the agent running it must not disturb it.

A real agent (a thermometer on a pseudo-terminal, a fridge behind a simulated Modbus TCP
gateway) on a real Mosquitto with passwords and ``use_username_as_clientid``, as shipped:
the doctor's CONNECT with the agent's credentials gets the agent's client id whatever it
asks for. While the agent runs the doctor stays beside it (the agent keeps its one MQTT
connection); once it stops, the lock is gone and the doctor probes everything, without
wiping the session that holds the agent's queued commands.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from agent.app import Agent
from agent.cli.main import main
from agent.config_file.loader import load_config
from agent.ops.lock import AgentAlreadyRunning, AgentLock, lock_path, running_agent
from drivers.modbus.profiles import load_profiles
from simulator.devices.modbus_devices import TcpGatewayServer
from simulator.devices.modbus_physics import FridgeModel, ScenarioClock
from simulator.devices.modbus_scenarios import SimDevice, build_bus
from tests.fixtures_mqtt import EXAMPLE_ACL, MqttTestClient, broker_factory_fixture, wait_until  # noqa: F401

PASSWORDS = {"a2": "pw-a2", "platform": "pw-platform"}


@pytest.fixture
def pty_path() -> Iterator[str]:
    master, slave = os.openpty()
    yield os.ttyname(slave)
    os.close(master)
    os.close(slave)


@pytest.fixture
def gateway() -> Iterator[tuple[str, int]]:
    """A Modbus TCP gateway with one fridge (slave 1), on its own loop."""
    loop = asyncio.new_event_loop()
    server = TcpGatewayServer(build_bus(ScenarioClock(), load_profiles(),
                                        [SimDevice("fridge-1", 1, "xy-md02", "fridge", FridgeModel())]))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    host, port = asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    yield host, port
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


@pytest.fixture
def kitchen(tmp_path: Path, broker_factory, pty_path: str, gateway: tuple[str, int]):
    broker = broker_factory(users=PASSWORDS, acl=EXAMPLE_ACL)
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "identity": {"agent_id": "a2", "school_id": "5101040042", "canteen_id": "k1"},
        "broker": {"host": "127.0.0.1", "port": broker.port, "username": "a2", "password": PASSWORDS["a2"],
                   "keepalive_s": 5, "reconnect_min_s": 0.2, "reconnect_max_s": 1},
        "store": {"path": str(tmp_path / "state" / "agent.db"), "media_dir": str(tmp_path / "state" / "media"),
                  "disk_budget_mb": 64},
        "devices": [{"id": "thermo-1", "kind": "ir_thermometer", "port": pty_path}],
        "modbus": [{"id": "gw-1", "kind": "modbus_tcp", "host": gateway[0], "port": gateway[1],
                    "timeout_s": 0.5, "devices": [{"id": "fridge-1", "profile": "xy-md02", "slave": 1}]}],
        "vision": {"enabled": False},
        "console": {"enabled": False},
    }))
    platform = MqttTestClient(broker.port, "platform", username="platform", password=PASSWORDS["platform"])
    platform.subscribe("scfs/v1/a2/cmd/res")
    yield path, platform
    platform.close()


def _doctor(capsys, path: Path, *extra: str) -> tuple[int, str]:
    code = main(["doctor", "--config", str(path), "--timeout", "3", *extra])
    out = capsys.readouterr().out
    print(out, file=sys.stderr)  # shown on failure, not read back by the next run
    return code, out


def _rows(output: str) -> dict[str, str]:
    """check name -> its table line (the table starts at its CHECK header)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("CHECK"))
    return {line.split("  ")[0].strip(): line for line in lines[start + 1:] if "  " in line}


def _ping(platform: MqttTestClient, command_id: str) -> None:
    now = datetime.now(UTC)
    platform.publish("scfs/v1/a2/cmd", json.dumps({
        "id": command_id, "name": "ping", "args": {}, "issued_at": now.isoformat(),
        "expires_at": (now + timedelta(minutes=5)).isoformat()}))


def _answered(platform: MqttTestClient, command_id: str) -> list[object]:
    return [m for m in platform.received("scfs/v1/a2/cmd/res") if json.loads(m.payload).get("id") == command_id]


def _started(path: Path) -> Agent:
    agent = Agent(load_config(path, {}), config_path=path)
    agent.start()
    wait_until(agent.uplink.connected.is_set, message="agent a2 connected")
    return agent


def test_cli_doctor_stays_beside_a_running_agent(kitchen, capsys, monkeypatch) -> None:
    monkeypatch.setenv("CANTEEN_CLOCK_SYNCED", "1")
    path, platform = kitchen
    agent = _started(path)
    try:
        wait_until(lambda: "fridge-1" in agent.devices.snapshot(), message="the agent polled the fridge")
        code, out = _doctor(capsys, path)
        assert out.splitlines()[0] == (
            f"agent running (pid {os.getpid()}): ports, Modbus and cameras not opened; their state is the "
            "agent's own health, broker checked to TLS only; --force-probe probes them anyway")
        assert code == 0, out
        rows = _rows(out)
        assert rows["serial thermo-1"].split()[2] == "OK" and "/dev/pts/" in rows["serial thermo-1"]  # looked at
        assert "not polled beside the running agent: the agent has no device_offline alarm open" \
            in rows["modbus fridge-1"]
        assert "answered" not in rows["modbus fridge-1"]
        assert "accepts connections" in rows["broker tcp"]
        assert "no CONNECT from the doctor" in rows["broker mqtt"]
        time.sleep(1.0)  # a takeover would show by now: the broker drops the agent, which reconnects
        assert agent.uplink.connected.is_set() and agent.uplink.connects == 1, "the doctor took the agent's session"
        _ping(platform, "c-beside")
        wait_until(lambda: _answered(platform, "c-beside"), message="the agent still gets its commands")

        # what the agent's store says is the row: an offline alarm it holds open is a failure
        agent.recorder.raise_alarm("device_offline", {"device_id": "fridge-1"}, "fridge-1 silent")
        code, out = _doctor(capsys, path)
        assert code == 1, out
        row = _rows(out)["modbus fridge-1"]
        assert row.split()[2] == "FAIL" and "the agent has it offline (device_offline alarm open since" in row
        assert "stop the agent first" in row
        agent.recorder.clear_alarm("device_offline", {"device_id": "fridge-1"})

        # the negative control: --force-probe does CONNECT, and the broker throws the agent off
        code, out = _doctor(capsys, path, "--force-probe")
        assert out.startswith(f"WARNING: agent running (pid {os.getpid()}), and --force-probe"), out
        assert "CONNECT accepted" in _rows(out)["broker mqtt"]
        wait_until(lambda: agent.uplink.connects >= 2 and agent.uplink.connected.is_set(),
                   message="the agent thrown off by --force-probe, then back")
    finally:
        agent.stop()
    assert running_agent(load_config(path, {}).store.path).running is False  # stop gave the lock back

    code, out = _doctor(capsys, path)
    assert code == 0, out
    assert out.startswith("CHECK"), "no agent runs: the full doctor, no mode line"
    rows = _rows(out)
    assert "answered" in rows["modbus fridge-1"] and "CONNECT accepted" in rows["broker mqtt"]


def test_the_full_doctor_keeps_the_agents_queued_commands(kitchen, capsys, monkeypatch) -> None:
    """The doctor's CONNECT lands on the agent's session (the broker makes the user name the
    client id): it must resume that session, not clean it, and acknowledge nothing queued in it."""
    monkeypatch.setenv("CANTEEN_CLOCK_SYNCED", "1")
    path, platform = kitchen
    _started(path).stop()  # the agent's persistent session exists; the agent is stopped
    _ping(platform, "c-queued")  # queued by the broker for the stopped agent
    code, out = _doctor(capsys, path)
    assert "CONNECT accepted" in _rows(out)["broker mqtt"], out
    agent = _started(path)
    try:
        wait_until(lambda: _answered(platform, "c-queued"), message="the command queued before the doctor ran")
    finally:
        agent.stop()


def test_the_lock_names_its_holder_and_dies_with_it(tmp_path: Path) -> None:
    store = tmp_path / "agent.db"
    assert running_agent(store).running is False  # never ran here
    lock = AgentLock(store)
    lock.acquire()
    try:
        holder = running_agent(store)
        assert (holder.running, holder.pid) == (True, os.getpid())
        with pytest.raises(AgentAlreadyRunning, match=f"pid {os.getpid()}"):
            AgentLock(store).acquire(wait_s=0.2)
    finally:
        lock.release()
    assert running_agent(store).running is False

    # a holder killed outright leaves no stale lock: the kernel drops it with the process
    child = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from agent.ops.lock import AgentLock; AgentLock(sys.argv[1]).acquire(); "
        "print('held', flush=True); time.sleep(60)"), str(store)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        assert running_agent(store).pid == child.pid
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert lock_path(store).exists() and running_agent(store).running is False


def test_an_unreadable_lock_is_taken_as_a_running_agent(capsys) -> None:
    """Cannot tell (the service user's state dir, the doctor run as someone else): hands off, and why."""
    with tempfile.TemporaryDirectory() as top:
        base = Path(top)
        base.chmod(0o755)
        state = base / "state"
        state.mkdir(mode=0o700)
        lock = AgentLock(state / "agent.db")  # the file exists; whether it is held cannot be seen
        lock.acquire()
        lock.release()
        path = base / "agent.yaml"
        path.write_text(yaml.safe_dump({
            "identity": {"agent_id": "a2", "school_id": "5101040042", "canteen_id": "k1"},
            "broker": {"port": 1}, "store": {"path": str(state / "agent.db")}, "vision": {"enabled": False}}))
        path.chmod(0o644)
        if os.geteuid() == 0:  # root reads everything: ask as nobody (util-linux's setpriv)
            run = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
                                  "-m", "agent", "doctor", "--config", str(path), "--timeout", "1"],
                                 capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[1])
            out = run.stdout + run.stderr
        else:
            state.chmod(0)
            try:
                _code, out = _doctor(capsys, path)
            finally:
                state.chmod(0o700)
    assert out.startswith(f"cannot tell whether an agent runs (cannot open {state}/agent.db.lock: "
                          "Permission denied; run as the service user or root), so as if it did: ports, Modbus"), out
    rows = _rows(out)
    assert "not polled" not in out and "CONNECT" in rows["broker mqtt"] and "not known" in rows["broker mqtt"]
