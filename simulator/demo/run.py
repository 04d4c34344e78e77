"""``canteen-sim demo``: a whole canteen day, simulated end to end, proven delivered exactly once.

It starts, all on this machine and all real: its own Mosquitto on a free port, the
reference platform, the kitchen's serial devices on pseudo-terminals (thermometer,
badge readers, keypads, scales), its Modbus equipment (an RS-485 line on a pty, a TCP
gateway), an IP camera (HTTP MJPEG) and the agent itself, configured from
``config/demo.yaml``. One accelerated clock drives the agent, the Modbus physics and the
schedule. The day (``simulator/demo/day.py``) plays while a progress line shows the
simulated time, records per type, alarms, media and the outbox; at the end a table read
back from the PLATFORM's database shows that everything the agent produced arrived
exactly once. Exit code 0 only if so (and the day showed what it is meant to show).

    canteen-sim demo                 # a few minutes
    canteen-sim demo --fast          # about a minute (what the tests run)
    canteen-sim demo --keep /tmp/d   # keep the run directory: agent.yaml, both databases, media, logs

Ctrl-C stops everything cleanly: agent, platform, broker, simulators.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shutil
import signal
import sys
import tempfile
import threading
import time as systime
from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from agent.app import Agent
from agent.config_file.loader import load_config
from agent.config_file.model import AgentConfig
from agent.core.feedback import ConsoleOutput, MemoryOutput
from agent.core.recorder import ClockMonitor
from agent.ops.doctor.checks import DoctorOptions, format_table
from agent.ops.doctor.run import run_checks
from drivers.readings import Reading
from simulator.demo.day import DayScript, Interrupted, kitchen_line_devices, store_gateway_devices
from simulator.demo.kitchen import DemoClock, KitchenCamera, ModbusSims, SerialKit
from simulator.demo.report import (
    NOTABLE,
    Summary,
    compare,
    notable_line,
    progress_line,
    scenario_checks,
)
from simulator.demo.video import DemoVideo
from simulator.platform.broker import Broker
from simulator.platform.media import Outcome
from simulator.platform.platform import Platform

log = logging.getLogger("simulator.demo")

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / "config" / "demo.yaml"
DAY_START = time(6, 0)
EXIT_OK, EXIT_MISMATCH, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 130
CYCLE_GAP_S = 45.0  # simulated seconds between two cabinet / contact readings (the agent allows 120)
BUSY_ROLES = ("cabinet", "uv_lamp", "ozone")  # polled every CYCLE_GAP_S; the clock waits for their readings


class DemoPlatform(Platform):
    """The reference platform, also counting the duplicates it drops per item type."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.duplicates_by_type: Counter[str] = Counter()

    def _account(self, topic: str, agent_id: str | None, outcome: Outcome) -> None:
        if outcome.duplicate:
            self.duplicates_by_type[outcome.kind] += 1
        super()._account(topic, agent_id, outcome)


# --- the config ----------------------------------------------------------------------------------


def effective_config(template: Path, run_dir: Path, *, broker_port: int, gateway_port: int, camera_url: str,
                     busy_speed: float, rtsp_url: str | None = None, gb: dict[str, object] | None = None) -> Path:
    """config/demo.yaml with this run's directory, ports and poll intervals; written to the run dir."""
    data = yaml.safe_load(template.read_text(encoding="utf-8").replace("{run}", str(run_dir)))
    data["broker"]["port"] = broker_port
    fast_poll = round(min(1.0, CYCLE_GAP_S / busy_speed), 3)
    for bus in data["modbus"]:
        if bus["kind"] == "modbus_tcp":
            bus["port"] = gateway_port
        for device in bus["devices"]:
            if device.get("role") in BUSY_ROLES:
                device["poll_s"] = fast_poll
    data["cameras"][0]["url"] = camera_url
    if rtsp_url is not None:
        data["video"]["cameras"][0]["url"] = rtsp_url
        if gb is not None:  # the reference GB/T 28181 platform registers the agent as a device
            data["video"]["cameras"][0]["gb_channel_id"] = gb.pop("channel_id")
            data["video"]["gb28181"] = gb
    else:
        data.pop("video", None)
    data.setdefault("console", {})["port"] = 0  # any free port: two demos (or a real agent) side by side
    data["public"] = {"enabled": True, "port": 0}  # the social end too (docs/PUBLIC.md), on a free port
    path = run_dir / "agent.yaml"
    path.write_text("# written by canteen-sim demo from config/demo.yaml\n"
                    + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# --- the running kitchen -----------------------------------------------------------------------------


class Rig:
    """Every running part of the demo, and what the day script needs from them."""

    def __init__(self, run_dir: Path, day: date, tz: ZoneInfo, busy_speed: float, out: Any = None) -> None:
        self.run_dir = run_dir
        self.day = day
        self.clock = DemoClock(day, tz, DAY_START)
        self.busy_speed = busy_speed
        self.out = out or sys.stdout
        self.stop = threading.Event()
        self.screen = MemoryOutput(keep=5000)
        self.broker_is_up = False
        # deepest outbox from the broker stop until it has drained back to where it was:
        # it keeps growing after the reconnect until the uplink has resent what was in flight
        self.max_outbox_down = 0
        self._outage_baseline: int | None = None  # outbox depth when the broker stopped; None: no outage
        self._phase = "starting"
        self._print_lock = threading.RLock()
        self._notable_seq = 0  # notable records printed up to this seq
        self._last_event_at = ""  # HH:MM:SS of the latest event line: they are printed in time order
        self._parts: list[tuple[str, Any]] = []  # (name, stop callable), stopped in reverse
        self.broker: Broker | None = None
        self.platform: DemoPlatform | None = None
        self.agent: Agent | None = None
        self.config: AgentConfig | None = None
        self.video: DemoVideo | None = None
        self.busy_devices: list[str] = []  # equipment whose readings the clock waits for while it runs

    # --- output ------------------------------------------------------------------------------

    def print(self, text: str) -> None:
        with self._print_lock:
            self.out.write(text + "\n")
            self.out.flush()

    def phase(self, name: str) -> None:
        with self._print_lock:
            self.print_notable()
            self._phase = name
            self.print(f"{self.clock():%H:%M} ── {name}")

    def event(self, text: str) -> None:
        """A line of the day at the simulated now, after the records that came before it."""
        with self._print_lock:
            self.print_notable()
            self._line_at(self.clock(), text)

    # --- start and stop -------------------------------------------------------------------------

    def _started(self, name: str, stop: Any) -> None:
        self._parts.append((name, stop))

    def start(self) -> None:
        self._start_kitchen("demo-platform")
        self.video = DemoVideo(self.run_dir / "platform" / "media-server", self.clock).start()
        self._started("video", self.video.stop)
        path = effective_config(DEMO_CONFIG, self.run_dir, broker_port=self.broker.port,
                                gateway_port=self.modbus.tcp_port, camera_url=self.camera.url,
                                busy_speed=self.busy_speed, rtsp_url=self.video.url, gb=self.video.gb_config())
        self.config = load_config(path, {})
        self.busy_devices = [d.id for bus in self.config.modbus for d in bus.devices if d.role in BUSY_ROLES]
        self._run_doctor(path)
        self._start_agent(path)

    def _start_kitchen(self, platform_client_id: str) -> None:
        """The broker, the reference platform and the simulated kitchen's devices (serial,
        Modbus, camera), each registered to be stopped in reverse order."""
        self.broker = Broker(self.run_dir / "broker")
        self.broker.start()
        self.broker_is_up = True
        self._started("broker", self.broker.stop)
        self.platform = DemoPlatform("127.0.0.1", self.broker.port, self.run_dir / "platform" / "platform.db",
                                     client_id=platform_client_id, media_dir=self.run_dir / "platform" / "media")
        self.platform.start()
        self._started("platform", self.platform.stop)
        self.kit = SerialKit(self.run_dir / "dev").start()
        self._started("serial devices", self.kit.stop)
        self.modbus = ModbusSims(self.clock, kitchen_line_devices(), store_gateway_devices(),
                                 self.run_dir / "dev" / "modbus-line").start()
        self._started("modbus devices", self.modbus.stop)
        self.camera = KitchenCamera().start()
        self._started("camera", self.camera.stop)

    def _run_doctor(self, path: Path) -> None:
        """What an installer runs first: the doctor, on the simulated kitchen, before the
        agent takes the lines (a serial line has one master)."""
        checks = run_checks(path, DoctorOptions(camera_seconds=1.0))
        failed = [c for c in checks if not c.ok]
        self.print(format_table(checks))  # its last line counts ok / warn / fail
        if failed:
            raise RuntimeError("doctor found problems: " + ", ".join(c.name for c in failed))

    def _start_agent(self, path: Path) -> None:
        assert self.config is not None
        agent = Agent(self.config, now=self.clock, monotonic=self.clock.monotonic,
                      clock=ClockMonitor(lambda: (True, "demo")), config_path=path)
        # the stations answer on the demo's screen, not on stdout between the progress lines
        agent.feedback.outputs = [o for o in agent.feedback.outputs if not isinstance(o, ConsoleOutput)]
        agent.feedback.add_output(self.screen)
        for component in agent.components:
            if component.name == "schedule":
                component.tick_interval_s = 1.0  # ticks every real second: deadlines on the fast clock
        # the agent's reading bus tells the clock which readings it has taken (DemoClock.leash)
        agent.bus.on_any_reading(self._reading_taken)
        self.agent = agent
        agent.start()
        self._started("agent", agent.stop)
        self._print_console_urls(agent)

    def _reading_taken(self, reading: Reading) -> None:
        if reading.mono is not None:
            self.clock.acknowledge(reading.device_id, reading.mono)

    def _print_console_urls(self, agent: Agent) -> None:
        console = agent.console.server
        if console is None or not console.started.wait(10):
            return
        base = f"http://127.0.0.1:{console.port}"
        stations = " ".join(f"{base}/station/{s.id}" for s in agent.config.stations)
        self.print(f"console: stations {stations}")
        self.print(f"console: manager {base}/login  (an account first: {command('canteen-agent')} user add NAME "
                   f"--role manager --config {self.run_dir / 'agent.yaml'})")
        public = agent.public.server
        if public is not None and public.started.wait(10):
            self.print(f"public side: http://127.0.0.1:{public.port}/public/  (invite codes: {base}/manager/invites)")

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Every device answering, the camera delivering, the uplink connected."""
        assert self.agent is not None and self.config is not None
        wanted = {d.id for d in self.config.devices} | {c.id for c in self.config.cameras}
        wanted |= {d.id for bus in self.config.modbus for d in bus.devices}
        deadline = systime.monotonic() + timeout
        while True:
            states = {k: v.get("state") for k, v in self.agent.devices.snapshot().items()}
            waiting = sorted(d for d in wanted if states.get(d) != "ok")
            if not waiting and self.agent.uplink.connected.is_set():
                return
            if systime.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout:.0f} s: devices {waiting}, "
                                   f"uplink connected={self.agent.uplink.connected.is_set()}")
            if self.stop.wait(0.1):
                raise Interrupted

    def shutdown(self) -> None:
        while self._parts:
            name, stop = self._parts.pop()
            try:
                stop()
            except Exception:  # noqa: BLE001 - stop everything else regardless
                log.exception("demo could not stop %s cleanly", name)

    # --- the broker outage -----------------------------------------------------------------------

    def broker_down(self) -> None:
        assert self.broker is not None
        self.broker_is_up = False  # first: watch_outbox ends an outage only while the broker is up
        self._outage_baseline = self.outbox_depth()
        self.broker.stop()
        self.event(f"broker stopped (port {self.broker.port}): the agent keeps working, its outbox fills")

    def broker_up(self) -> None:
        assert self.broker is not None
        depth = self.watch_outbox()
        self.broker.start()
        self.broker_is_up = True
        self.event(f"broker back; outbox at {depth} items, draining")

    def watch_outbox(self) -> int:
        """The outbox depth now, kept as the deepest while an outage has not drained."""
        depth = self.outbox_depth()
        if self._outage_baseline is not None:
            self.max_outbox_down = max(self.max_outbox_down, depth)
            if self.broker_is_up and depth <= self._outage_baseline:
                self._outage_baseline = None  # drained back: the outage is over
        return depth

    # --- figures ---------------------------------------------------------------------------------

    def outbox_depth(self) -> int:
        assert self.agent is not None
        return sum(d.count for d in self.agent.store.outbox_depth())

    def _uplink_state(self) -> str:
        uplink = self.agent.uplink if self.agent is not None else None
        if uplink is None:
            return "no uplink"
        d = uplink.delivery
        return (f"uplink connected={uplink.connected.is_set()} connects={uplink.connects} "
                f"mqtt_inflight={d.mqtt_inflight} awaiting_ack={len(d.sent)} published={d.published_total} "
                f"acked={d.acked_total} cursors={ {int(k): v for k, v in d.cursors.items()} }")

    def progress(self) -> str:
        assert self.agent is not None and self.platform is not None
        store = self.agent.store
        by_type = {r[0]: r[1] for r in store.query("SELECT type, count(*) FROM records GROUP BY type")}
        alarms = {r[0]: r[1] for r in store.query(
            "SELECT json_extract(payload, '$.data.state'), count(*) FROM records WHERE type='alarm' GROUP BY 1")}
        media = store.query("SELECT count(*) FROM media")[0][0]
        outbox = self.watch_outbox()
        platform_total = sum(self.platform.count_by_type(self.config.identity.agent_id).values())
        return progress_line(f"{self.clock():%H:%M:%S}", self.clock.speed, self._phase, by_type,
                             (alarms.get("raised", 0), alarms.get("cleared", 0)), media, outbox, platform_total,
                             self.broker_is_up)

    def progress_loop(self, every_s: float) -> None:
        next_line = systime.monotonic() + every_s
        while not self.stop.wait(0.1):  # the outbox watched often, the line printed every_s
            try:
                self.watch_outbox()
                if systime.monotonic() >= next_line:
                    next_line += every_s
                    with self._print_lock:
                        self.print_notable()
                        self.print(self.progress())
            except Exception:  # noqa: BLE001 - a progress line must never end the demo
                log.exception("progress line failed")

    def print_notable(self) -> None:
        """One line per new alarm and equipment record (the stations' answers are printed by the
        day), in the order they happened."""
        if self.agent is None:
            return
        marks = ",".join("?" * len(NOTABLE))
        with self._print_lock:
            rows = self.agent.store.query(
                f"SELECT seq, payload FROM records WHERE seq > ? AND type IN ({marks}) ORDER BY seq",
                (self._notable_seq, *NOTABLE))
            if not rows:
                return
            self._notable_seq = rows[-1]["seq"]
            records = sorted((json.loads(row["payload"]) for row in rows), key=lambda r: r["occurred_at"])
            for record in records:
                occurred = datetime.fromisoformat(record["occurred_at"])
                if f"{occurred:%H:%M:%S}" >= self._last_event_at:
                    self._line_at(occurred, notable_line(record))
                else:  # stored after later lines were printed (vision judges an episode once it ends)
                    self._line_at(self.clock(), f"{notable_line(record)} (of {occurred:%H:%M:%S}, stored now)")

    def _line_at(self, when: datetime, text: str) -> None:
        self._last_event_at = max(self._last_event_at, f"{when:%H:%M:%S}")
        self.print(f"{when:%H:%M:%S}    {text}")

    def drain(self, timeout: float = 90.0) -> None:
        """The clock frozen, wait until the outbox stays empty (everything acked by the platform).

        The telemetry the store holds back (``store.telemetry_defer_s``) is written first, and
        the acks of it that came meanwhile once more at the end, so the day ends with nothing
        left to send, as a box does after its deferral period."""
        self.clock.set_speed(0.0)
        self.agent.store.flush_deferred()
        deadline = systime.monotonic() + timeout
        empty_since: float | None = None
        while True:
            if self.outbox_depth() == 0:
                self.agent.store.flush_deferred()  # the acks of telemetry, to the disk
                empty_since = empty_since or systime.monotonic()
                if systime.monotonic() - empty_since >= 1.5:
                    return
            else:
                empty_since = None
            if systime.monotonic() > deadline:
                raise TimeoutError(f"outbox not drained after {timeout:.0f} s ({self.outbox_depth()} left; "
                                   f"{self._uplink_state()})")
            if self.stop.wait(0.1):
                raise Interrupted


# --- the command ---------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fast", action="store_true",
                        help="short mode (~1 min): idle hours are skipped, equipment runs at 240x")
    parser.add_argument("--speed", type=float, default=None,
                        help="simulated seconds per real second while equipment runs (default 60, --fast 240)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="run in DIR and keep it (config, databases, media, logs); default: a temporary dir")
    parser.add_argument("--day", type=date.fromisoformat, default=None,
                        help="the simulated day, YYYY-MM-DD (default: yesterday in the canteen's time zone: "
                             "a day that has ended, so no record is stamped in the future)")
    parser.add_argument("--progress-s", type=float, default=1.0, help="seconds between progress lines")


def _log_to_file(run_dir: Path, verbose: bool, name: str = "demo.log") -> None:
    """The agent's and the simulators' logs go to <run>/demo.log; the console shows the day."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            handler.setLevel(logging.INFO if verbose else logging.ERROR)
    file_handler = logging.FileHandler(run_dir / name, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    file_handler.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.addHandler(file_handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per second-tick otherwise


def run(args: argparse.Namespace) -> int:
    busy_speed = args.speed or (240.0 if args.fast else 60.0)
    if busy_speed <= 0:
        print("--speed must be positive", file=sys.stderr)
        return EXIT_FAILED
    keep = args.keep is not None
    run_dir = (args.keep if keep else Path(tempfile.mkdtemp(prefix="canteen-demo-"))).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    _log_to_file(run_dir, getattr(args, "verbose", False))
    tz = ZoneInfo(yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))["identity"]["timezone"])
    day = args.day or datetime.now(tz).date() - timedelta(days=1)
    rig = Rig(run_dir, day, tz, busy_speed)
    previous = _install_signal_handlers(rig.stop)
    started = systime.monotonic()
    rig.print(f"canteen-sim demo: {day} in {run_dir} (equipment at {busy_speed:g}x"
              f"{', idle hours skipped' if args.fast else ''}); Ctrl-C stops it")
    code = EXIT_FAILED
    summary: Summary | None = None
    progress: threading.Thread | None = None
    try:
        rig.start()
        rig.wait_ready()
        progress = threading.Thread(target=rig.progress_loop, args=(args.progress_s,), name="demo-progress",
                                    daemon=True)
        progress.start()
        DayScript(rig, busy_speed=busy_speed, jump_idle=args.fast).run()
        rig.phase("draining")
        rig.drain()
        if rig.video is not None:  # the fetched range is on the platform now: how long it plays
            rig.video.fetched_file_duration(rig.platform, rig.config.identity.agent_id)
        rig.print(rig.progress())
        code = EXIT_OK
    except Interrupted:
        rig.print("interrupted: stopping everything")
        code = EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - reported, then everything is stopped
        log.exception("demo failed")
        rig.print(f"demo failed: {exc}")
    finally:
        rig.stop.set()
        if progress is not None:
            progress.join(5)
        duplicates = rig.platform.duplicates_by_type if rig.platform is not None else Counter()
        rig.shutdown()
        _restore_signal_handlers(previous)
    if code == EXIT_OK:
        summary = compare(run_dir / "agent" / "agent.db", run_dir / "platform" / "platform.db",
                          rig.config.identity.agent_id, duplicates)
        summary.checks = scenario_checks(run_dir / "agent" / "agent.db")
        if rig.video is not None:
            summary.checks.append(rig.video.check())
            summary.checks.append(rig.video.gb_check())
        summary.max_outbox_during_outage = rig.max_outbox_down
        summary.figures = {"wall_s": round(systime.monotonic() - started, 1), "busy_speed": busy_speed,
                           "fast": bool(args.fast), "day": day.isoformat(), "run_dir": str(run_dir),
                           # how often, and how long in all, the running equipment waited for the agent's poll
                           "clock_waits": rig.clock.scenario.holds,
                           "clock_waited_s": round(rig.clock.scenario.held_s, 1)}
        (run_dir / "summary.json").write_text(json.dumps(summary.to_json(), ensure_ascii=False, indent=2))
        rig.print("\n" + summary.render())
        rig.print(f"\n{summary.figures['wall_s']} s wall; run directory {run_dir}"
                  f"{'' if keep else ' (removed; keep it with --keep DIR)'}")
        if keep:
            rig.print(look_around(run_dir, day))
        code = EXIT_OK if summary.ok else EXIT_MISMATCH
    if not keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return code


def command(name: str) -> str:
    """How to run one of the project's commands from here: the one beside this Python
    (``.venv/bin/canteen-agent`` right after ``./dev.sh setup``, whether or not it is on the PATH)."""
    beside = Path(sys.executable).parent / name
    if not beside.exists() or shutil.which(name) == str(beside):
        return name
    try:
        return str(beside.relative_to(Path.cwd()))
    except ValueError:
        return str(beside)


def look_around(run_dir: Path, day: date) -> str:
    """What to run next on a kept demo: its day in the CLI, and a console on the simulated kitchen."""
    config = run_dir / "agent.yaml"
    agent, sim = command("canteen-agent"), command("canteen-sim")
    return (f"look at the day:   {agent} today --config {config} --day {day}\n"
            f"                   {agent} records --config {config} --day {day}\n"
            f"keep a console up: {sim} kitchen --keep {run_dir}   (Ctrl-C stops it)")


def _install_signal_handlers(stop: threading.Event) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda *_: stop.set())
    return previous


def _restore_signal_handlers(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        with contextlib.suppress(ValueError, TypeError):
            signal.signal(sig, handler)


def extend(subparsers: Any) -> None:
    """``canteen-sim demo``: for ``simulator.cli.SUBCOMMANDS``."""
    p = subparsers.add_parser("demo", help="a whole canteen day, simulated end to end",
                              description=__doc__.splitlines()[0].replace("``", ""))
    add_arguments(p)
    p.set_defaults(fn=run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="canteen-sim demo", description=__doc__.splitlines()[0].replace("``", ""))
    add_arguments(parser)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
