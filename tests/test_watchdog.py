"""systemd's watchdog, on a real AF_UNIX datagram socket bound as $NOTIFY_SOCKET.

The main loop says READY=1, then WATCHDOG=1 every interval while it and the agent's
core are alive; when the main loop hangs, or the reading-bus dispatcher or the store
writer is wedged, the pings stop (so systemd, after WatchdogSec, kills and restarts
the agent). The real ``canteen-agent run`` is used for the entry point and for the
liveness checks; a bare MainLoop for a hung loop body.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import yaml

from agent.ops.runtime import MainLoop, Supervisor
from agent.ops.sdnotify import Notifier, watchdog_interval_s

REPO = Path(__file__).resolve().parents[1]


class NotifySocket:
    """What systemd listens on: collects every datagram with its arrival time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            for line in data.decode().splitlines():
                self.messages.append((time.monotonic(), line))

    def lines(self) -> list[str]:
        return [m for _, m in self.messages]

    def pings(self, since: float = 0.0) -> list[float]:
        return [t for t, m in self.messages if m == "WATCHDOG=1" and t >= since]

    def wait_for(self, predicate, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def notify(tmp_path):
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


def _assert_pings_stop(notify: NotifySocket, quiet_s: float, timeout: float = 40.0) -> None:
    """After the hang, there is a moment from which no ping comes for ``quiet_s``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = max(notify.pings(), default=0.0)
        if time.monotonic() - last >= quiet_s:
            return
        time.sleep(0.1)
    raise AssertionError(f"pings never stopped: last {time.monotonic() - max(notify.pings()):.1f}s ago")


def test_watchdog_interval_is_half_of_watchdog_usec(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval_s() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))  # meant for another process
    assert watchdog_interval_s() is None


def test_main_loop_pings_then_stops_when_its_body_hangs(notify):
    supervisor = Supervisor()
    hang = threading.Event()
    release = threading.Event()

    def beat() -> None:
        if hang.is_set():
            release.wait()  # the loop body is stuck here

    loop = MainLoop(supervisor, Notifier(str(notify.path)), interval_s=0.1)
    thread = threading.Thread(target=loop.run, kwargs={"on_beat": beat}, daemon=True)
    thread.start()
    assert notify.wait_for(lambda: len(notify.pings()) >= 5)
    assert notify.lines()[0].startswith("READY=1")
    hang.set()
    _assert_pings_stop(notify, quiet_s=1.5)
    assert thread.is_alive()  # the process is alive but silent: systemd's case for a restart
    release.set()
    hang.clear()
    resumed = time.monotonic()
    assert notify.wait_for(lambda: len(notify.pings(since=resumed)) >= 2)
    supervisor.stop_event.set()
    thread.join(5)
    assert notify.wait_for(lambda: notify.lines()[-1] == "STOPPING=1", 5)


def test_failing_liveness_withholds_pings(notify):
    supervisor = Supervisor()
    alive = threading.Event()
    alive.set()
    loop = MainLoop(supervisor, Notifier(str(notify.path)), liveness=alive.is_set, interval_s=0.1)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    assert notify.wait_for(lambda: len(notify.pings()) >= 3)
    alive.clear()
    _assert_pings_stop(notify, quiet_s=1.5)
    supervisor.stop_event.set()
    thread.join(5)


# --- the real agent in a subprocess ----------------------------------------------------

HANGING_AGENT = textwrap.dedent("""
    import sys, threading, time
    from pathlib import Path
    from agent.app import Agent
    from agent.config_file.loader import load_config

    config_path, trigger = sys.argv[1], Path(sys.argv[2])

    class Wedge:
        # a workflow whose tick never returns once the trigger file exists
        name = "wedge"
        def wants(self, reading): return False
        def on_reading(self, reading): pass
        def tick(self, now):
            if trigger.exists() and trigger.read_text() == "dispatcher":
                threading.Event().wait()

    def watch_store(agent):
        # a write op that never returns once asked: the store's single writer is stuck
        while not (trigger.exists() and trigger.read_text() == "store"):
            time.sleep(0.05)
        agent.store.writer.submit(lambda conn: threading.Event().wait())

    agent = Agent(load_config(config_path), config_path=config_path)
    agent.bus.add_workflow(Wedge())
    threading.Thread(target=watch_store, args=(agent,), daemon=True).start()

    # the uplink's next connect attempt never returns once asked (a hung handshake)
    real_connect = agent.uplink.link.connect
    def connect(*args, **kwargs):
        if trigger.exists() and trigger.read_text() == "uplink":
            threading.Event().wait()
        return real_connect(*args, **kwargs)
    agent.uplink.link.connect = connect
    agent.uplink.stall_allowance_s = 2.0  # what one connect may block (60 s by default)
    agent.run_forever()
""")


def _agent_config(tmp_path: Path) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "identity": {"agent_id": "watchdog-test", "school_id": "5101040042", "canteen_id": "k1"},
        # an unreachable broker on loopback: the uplink keeps retrying, the core runs
        "broker": {"host": "127.0.0.1", "port": 9, "reconnect_max_s": 2},
        "store": {"path": str(tmp_path / "agent.db"), "media_dir": str(tmp_path / "media")},
        "vision": {"enabled": False}, "console": {"enabled": False},
    }))
    return path


def _env(notify: NotifySocket, watchdog_usec: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WATCHDOG_PID",)}
    env.update(NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC=str(watchdog_usec),
               PYTHONPATH=str(REPO), CANTEEN_CLOCK_SYNCED="1")
    return env


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def test_canteen_agent_run_says_ready_pings_and_stopping(tmp_path, notify):
    entry = [sys.executable, "-c", "import sys; from agent.cli.main import main; sys.exit(main())"]
    process = subprocess.Popen([*entry, "run", "--config", str(_agent_config(tmp_path))],
                               env=_env(notify, 400_000), cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert notify.wait_for(lambda: len(notify.pings()) >= 4, 60), (
            notify.lines(), process.stderr.read().decode()[-2000:] if process.poll() is not None else "")
        assert notify.lines()[0].startswith("READY=1")
    finally:
        _stop(process)
    assert process.returncode == 0
    assert notify.wait_for(lambda: "STOPPING=1" in notify.lines(), 5)


@pytest.mark.parametrize("wedged", ["dispatcher", "store", "uplink"])
def test_real_agent_stops_pinging_when_its_core_is_wedged(tmp_path, notify, wedged):
    script = tmp_path / "hanging_agent.py"
    script.write_text(HANGING_AGENT)
    trigger = tmp_path / "wedge"
    # WatchdogSec=1s: pings every 0.5 s; a stall counts after max(5 s, 2 x interval)
    process = subprocess.Popen([sys.executable, str(script), str(_agent_config(tmp_path)), str(trigger)],
                               env=_env(notify, 1_000_000), cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert notify.wait_for(lambda: len(notify.pings()) >= 4, 60), notify.lines()
        trigger.write_text(wedged)
        wedged_at = time.monotonic()
        _assert_pings_stop(notify, quiet_s=3.0, timeout=60)
        assert process.poll() is None  # alive but silent: systemd would kill and restart it
        last = max(notify.pings())
        assert last - wedged_at < 15  # stopped within the stall limit (5 s) plus slack
    finally:
        process.kill()
        process.wait(10)
    errors = process.stderr.read().decode()
    messages = {"dispatcher": "reading-bus dispatcher stalled", "store": "store writer stalled",
                "uplink": "uplink loop stalled"}
    assert messages[wedged] in errors
    assert all(text not in errors for name, text in messages.items() if name != wedged)
