"""Bench: the station screen, thermometer frame on the wire → verdict painted in the browser;
and the console's added resident memory.

1. Latency. The agent runs as in production (reading bus, serial drivers on two
   pseudo-terminals this bench writes, the morning-check workflow, the real store, the
   console) and Debian's chromium shows ``/station/<id>`` at 1024×600. For each person:
   the badge line, the prompt painted, two steady GY-MCU90615 frames, then the decisive
   third one: the clock starts just before it is written and stops at the
   ``requestAnimationFrame`` in which the page has put the verdict into the DOM (the
   page records ``performance.timeOrigin + performance.now()``; same machine, same
   wall clock).
2. Memory. Two child processes run the same agent and the same 100 checks, one with the
   console off and one with it on and a station screen (an SSE stream) plus 100 page
   loads; the difference of their VmRSS is what the console adds.

Run: ``./dev.sh bench console [--checks 300]``
Targets: p99 ≤ 150 ms frame → painted verdict; console adds ≤ 25 MB resident.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from agent.app import Agent
from agent.config_file.model import AgentConfig
from agent.core.feedback import Message
from agent.core.recorder import ClockMonitor
from bench.serial_latency import Pty, build_config, percentile
from drivers.thermometer import gy_frame

TARGET_P99_MS = 150.0
TARGET_RSS_MB = 25.0
STATION = "mc-bench"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


class Prompted:
    """Feedback output: the station asked the person to measure (the badge was read), and
    when the verdict reached the feedback outputs (the console's share starts there)."""

    name = "bench"

    def __init__(self) -> None:
        self.event = threading.Event()
        self.verdict_at = 0.0

    def show(self, message: Message) -> None:
        if message.station != STATION:
            return
        if "请测温" in message.text:
            self.event.set()
        elif message.screen is not None and message.screen.phase == "verdict":
            self.verdict_at = time.time()


def console_config(tmp: Path, thermo: Pty, badge: Pty, people: int, console: bool) -> AgentConfig:
    base = build_config(tmp, thermo, badge, people).model_dump(mode="json")
    base["console"] = {"enabled": console, "port": 0}
    base["vision"] = {"enabled": False}
    return AgentConfig.model_validate(base)


def start(agent: Agent) -> None:
    for component in agent.components:
        if component.name in ("reading-bus", "console") or component.name.startswith("serial-"):
            agent.supervisor.start(component)


def one_check(n: int, thermo: Pty, badge: Pty, prompted: Prompted, fever_every: int) -> float:
    """Badge, prompt, the two approaching frames; returns the wall time the decisive one was written."""
    prompted.event.clear()
    badge.write(f"{4_200_000 + n:010d}\r\n".encode())
    if not prompted.event.wait(5):
        raise RuntimeError(f"check {n}: no prompt after the badge")
    celsius = 37.9 if fever_every and n % fever_every == fever_every - 1 else 36.0 + (n % 9) / 10
    frame = gy_frame(celsius, 24.0)
    thermo.write(frame + frame)
    time.sleep(0.01)
    t0 = time.time()
    thermo.write(frame)
    return t0


def step_away(thermo: Pty) -> None:
    thermo.write(gy_frame(24.0, 24.0))
    thermo.drain_input()


def latency(checks: int, fever_every: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    thermo, badge = Pty(), Pty()
    painted_ms: list[float] = []
    feedback_ms: list[float] = []
    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp, sync_playwright() as p:
        agent = Agent(console_config(Path(tmp), thermo, badge, checks, True),
                      clock=ClockMonitor(lambda: (True, "bench")))
        prompted = Prompted()
        agent.feedback.add_output(prompted)
        start(agent)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            assert agent.console.server.started.wait(10)
            page = browser.new_page(viewport={"width": 1024, "height": 600})
            page.goto(f"http://127.0.0.1:{agent.console.server.port}/station/{STATION}")
            page.wait_for_selector("#link.link-up")
            time.sleep(0.5)  # both drivers open their ports
            for n in range(checks):
                seen = int(page.evaluate("Number(document.documentElement.dataset.painted || 0)"))
                t0 = one_check(n, thermo, badge, prompted, fever_every)
                page.wait_for_function(
                    "s => document.body.className.includes('verdict-') &&"
                    " Number(document.documentElement.dataset.painted) > s", arg=seen, timeout=5000)
                painted_at = float(page.evaluate("document.documentElement.dataset.paintedAt"))
                painted_ms.append(painted_at - t0 * 1000)
                feedback_ms.append((prompted.verdict_at - t0) * 1000)
                step_away(thermo)
        finally:
            browser.close()
            agent.stop()
            thermo.close()
            badge.close()
    return {"frame → verdict on the feedback": feedback_ms,
            "frame → verdict painted": painted_ms,
            "console share (SSE → paint)": [p - f for p, f in zip(painted_ms, feedback_ms, strict=True)]}


def rss_probe(console: bool, checks: int) -> float:
    """(child process) the agent doing ``checks`` checks, the console on or off; VmRSS MB."""
    thermo, badge = Pty(), Pty()
    with tempfile.TemporaryDirectory(prefix="console-rss-") as tmp:
        agent = Agent(console_config(Path(tmp), thermo, badge, checks, console),
                      clock=ClockMonitor(lambda: (True, "bench")))
        prompted = Prompted()
        agent.feedback.add_output(prompted)
        start(agent)
        stream = None
        try:
            time.sleep(0.5)
            if console:
                assert agent.console.server.started.wait(10)
                base = f"http://127.0.0.1:{agent.console.server.port}/station/{STATION}"
                stream = urllib.request.urlopen(base + "/events", timeout=30)  # noqa: S310 (a screen)
                stream.readline()
            for n in range(checks):
                one_check(n, thermo, badge, prompted, 0)
                time.sleep(0.05)
                step_away(thermo)
                if console:
                    urllib.request.urlopen(base, timeout=10).read()  # noqa: S310
            return _vm_rss_mb()
        finally:
            if stream is not None:
                stream.close()
            agent.stop()
            thermo.close()
            badge.close()


def _vm_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def added_memory(checks: int) -> dict[str, float]:
    found = {}
    for mode in ("off", "on"):
        out = subprocess.run([sys.executable, "-m", "bench.console", "--rss-probe", mode, "--checks", str(checks)],
                             check=True, capture_output=True, text=True).stdout
        found[mode] = float(out.strip().splitlines()[-1])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=300)
    parser.add_argument("--fever-every", type=int, default=10, help="every n-th person has a fever (0: none)")
    parser.add_argument("--rss-probe", choices=["on", "off"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("agent.core.recorder", "agent.core.feedback"):  # the fevers are expected here
        logging.getLogger(name).setLevel(logging.ERROR)
    if args.rss_probe:
        print(f"{rss_probe(args.rss_probe == 'on', min(args.checks, 100)):.1f}")
        return 0
    print(f"console bench: {args.checks} morning checks, GY thermometer + serial badge on ptys, "
          f"chromium {CHROMIUM} at 1024x600; {platform.machine()} {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    series = latency(args.checks, args.fever_every)
    for label, values in series.items():
        print(f"{label:34s} p50 {percentile(values, 50):6.1f} ms  p90 {percentile(values, 90):6.1f} ms  "
              f"p99 {percentile(values, 99):6.1f} ms  max {max(values):6.1f} ms  "
              f"mean {statistics.fmean(values):6.1f} ms  (n={len(values)})")
    values = series["frame → verdict painted"]
    memory = added_memory(min(args.checks, 100))
    added = memory["on"] - memory["off"]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"resident memory: console off {memory['off']:.1f} MB, on (1 screen streaming, page loads) "
          f"{memory['on']:.1f} MB: the console adds {added:.1f} MB")
    p99 = percentile(values, 99)
    met = p99 <= TARGET_P99_MS and added <= TARGET_RSS_MB
    print(f"targets p99 ≤ {TARGET_P99_MS:g} ms ({p99:.1f}), added RSS ≤ {TARGET_RSS_MB:g} MB ({added:.1f}): "
          f"{'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
