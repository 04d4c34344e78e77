"""``canteen-sim kitchen``: the simulated kitchen kept running with its console, to look around.

It starts what the demo starts (its own Mosquitto, the reference platform, the stations'
serial devices on pseudo-terminals, the Modbus line and gateway, the kitchen camera) and
the agent with its console on a fixed port, on the wall clock, and keeps them up until
Ctrl-C. Given a kept demo's run directory (``--keep DIR``) the agent opens that store, so
the manager's pages also show the demo's day (``/manager/today?day=…``, records, alarms).
Lines typed on stdin play the kitchen's people and cables:

    badge mc-1 S003         a badge at a station (a staff id or a name from the roster)
    temp 36.6 | temp away   a forehead at the morning-check thermometer, or nobody
    weigh fs-1 130          a stable weight on a station's scale, in grams; clear fs-1
    key mc-1 0              a line typed at a station's keypad
    unplug thermo-mc        pull a serial device's cable; plug thermo-mc puts it back
    mask off | mask on | mask away   the person in front of the kitchen camera
    help | quit
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from agent.config_file.loader import load_config
from agent.core.feedback import ConsoleOutput
from simulator.demo.kitchen import DemoClock
from simulator.demo.run import (
    DEMO_CONFIG,
    Rig,
    _install_signal_handlers,
    _log_to_file,
    _restore_signal_handlers,
    command,
    effective_config,
)
from simulator.devices.serial_devices import PtySerialDevice

log = logging.getLogger("simulator.kitchen")
DEFAULT_PORT = 8080
HELP = __doc__.split("Lines typed on stdin play the kitchen's people and cables:", 1)[1].rstrip()


class KitchenRig(Rig):
    """The demo's rig on the wall clock, without the video relay, its console on ``port``."""

    def __init__(self, run_dir: Path, tz: ZoneInfo, port: int, out: Any = None) -> None:
        now = datetime.now(tz)
        super().__init__(run_dir, now.date(), tz, busy_speed=1.0, out=out)
        self.clock = DemoClock(now.date(), tz, now.time())
        self.clock.set_speed(1.0)
        self.port = port

    def start(self) -> None:
        self._start_kitchen("kitchen-platform")
        path = effective_config(DEMO_CONFIG, self.run_dir, broker_port=self.broker.port,
                                gateway_port=self.modbus.tcp_port, camera_url=self.camera.url, busy_speed=1.0)
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["console"]["port"] = self.port
        path.write_text("# written by canteen-sim kitchen from config/demo.yaml\n"
                        + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        self.config = load_config(path, {})
        self._start_agent(path)
        assert self.agent is not None
        self.agent.feedback.add_output(ConsoleOutput(self.out))  # what the stations say, here

    def _print_console_urls(self, agent: Any) -> None:
        console = agent.console.server
        if console is None or not console.started.wait(10):
            self.print("the console did not start: see kitchen.log")
            return
        base = f"http://127.0.0.1:{console.port}"
        self.print("station screens: " + "  ".join(f"{base}/station/{s.id}" for s in agent.config.stations))
        self.print(f"manager pages:   {base}/login")
        public = agent.public.server
        if public is not None and public.started.wait(10):
            self.print(f"public side:     http://127.0.0.1:{public.port}/public/  (invite codes: {base}/manager/invites)")


class Actions:
    """What a line on stdin does to the kitchen."""

    def __init__(self, rig: KitchenRig) -> None:
        assert rig.config is not None
        self.rig = rig
        self.stations = {s.id: s for s in rig.config.stations}
        self.cards = {}
        for person in rig.config.site.staff:
            if person.badges:
                self.cards[person.staff_id] = person.badges[0]
                if person.name:
                    self.cards[person.name] = person.badges[0]

    def device(self, device_id: str) -> PtySerialDevice:
        found = getattr(self.rig.kit, device_id.replace("-", "_"), None)
        if not isinstance(found, PtySerialDevice):
            raise ValueError(f"no serial device {device_id!r}: "
                             + ", ".join(d.path.rsplit('/', 1)[-1] for d in self.rig.kit.all))
        return found

    def station_device(self, station_id: str, role: str) -> Any:
        station = self.stations.get(station_id)
        if station is None:
            raise ValueError(f"no station {station_id!r}: {', '.join(self.stations)}")
        device_id = getattr(station, role)
        if device_id is None:
            raise ValueError(f"station {station_id} has no {role}")
        return self.device(device_id)

    def do(self, line: str) -> str | None:
        words = line.split()
        if not words:
            return None
        verb, rest = words[0].lower(), words[1:]
        if verb in ("help", "?"):
            return HELP
        if verb == "badge" and len(rest) == 2:
            card = self.cards.get(rest[1])
            if card is None:
                raise ValueError(f"nobody called {rest[1]!r} on the roster: {', '.join(sorted(self.cards))}")
            self.station_device(rest[0], "badge").scan(card)
        elif verb == "temp" and len(rest) == 1:
            thermometer = self.rig.kit.thermo_mc
            if rest[0] == "away":
                thermometer.away()
            else:
                thermometer.present(float(rest[0]))
        elif verb == "weigh" and len(rest) == 2:
            self.station_device(rest[0], "scale").place(float(rest[1]))
        elif verb == "clear" and len(rest) == 1:
            self.station_device(rest[0], "scale").clear()
        elif verb == "key" and len(rest) >= 2:
            self.station_device(rest[0], "keypad").write((" ".join(rest[1:]) + "\r\n").encode())
        elif verb == "unplug" and len(rest) == 1:
            self.device(rest[0]).unplug()
        elif verb == "plug" and len(rest) == 1:
            self.device(rest[0]).replug()
        elif verb == "mask" and len(rest) == 1 and rest[0] in ("on", "off", "away"):
            self.rig.camera.show({"on": "with_mask", "off": "without_mask", "away": None}[rest[0]])
        else:
            raise ValueError(f"not understood: {line.strip()!r} (help lists what works)")
        return "ok"


def _read_stdin(actions: Actions, rig: KitchenRig) -> None:
    """Plays each line typed; at the end of stdin (none attached) the kitchen keeps running."""
    for line in sys.stdin:
        if line.strip().lower() in ("quit", "exit"):
            rig.stop.set()
            return
        try:
            answer = actions.do(line)
        except (ValueError, IndexError) as exc:
            answer = str(exc)
        if answer:
            rig.print(answer)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="run in DIR and keep it; a kept demo's DIR: the agent opens its store")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"the console's port (default {DEFAULT_PORT})")


def run(args: argparse.Namespace) -> int:
    run_dir = (args.keep or Path(tempfile.mkdtemp(prefix="canteen-kitchen-"))).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    _log_to_file(run_dir, getattr(args, "verbose", False), name="kitchen.log")
    tz = ZoneInfo(yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))["identity"]["timezone"])
    rig = KitchenRig(run_dir, tz, args.port)
    previous = _install_signal_handlers(rig.stop)
    rig.print(f"canteen-sim kitchen in {run_dir} on the wall clock; Ctrl-C stops it")
    try:
        rig.start()
        assert rig.agent is not None and rig.config is not None
        config = run_dir / "agent.yaml"
        users = rig.agent.store.console_users()
        if not users:
            rig.print(f"no console account yet: {command('canteen-agent')} user add NAME --role manager "
                      f"--config {config}")
        actions = Actions(rig)
        rig.print("type help for what the people and cables of the kitchen can do")
        threading.Thread(target=_read_stdin, args=(actions, rig), name="kitchen-stdin", daemon=True).start()
        rig.stop.wait()
        rig.print("stopping")
        return 0
    except Exception as exc:  # noqa: BLE001 - reported, then everything is stopped
        log.exception("kitchen failed")
        rig.print(f"canteen-sim kitchen failed: {exc}")
        return 2
    finally:
        rig.shutdown()
        _restore_signal_handlers(previous)


def extend(subparsers: Any) -> None:
    """``canteen-sim kitchen``: for ``simulator.cli.SUBCOMMANDS``."""
    p = subparsers.add_parser("kitchen", help="the simulated kitchen kept running with its console, to look around",
                              description=__doc__.splitlines()[0].replace("``", ""),
                              formatter_class=argparse.RawDescriptionHelpFormatter, epilog=HELP)
    add_arguments(p)
    p.set_defaults(fn=run)
