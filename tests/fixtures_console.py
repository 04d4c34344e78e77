"""A kitchen for the console's browser tests: simulated badge reader and thermometer on
pseudo-terminals, the agent (serial, uplink, console) on a real Mosquitto with the
reference platform, and Debian's chromium driven by Playwright (never a downloaded one).

    from tests.fixtures_console import browser_fixture, kitchen_fixture  # noqa: F401
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from agent.app import Agent
from agent.console.auth import add_user
from agent.core.recorder import ClockMonitor
from agent.core.timeutil import ManualClock
from simulator.devices.serial_devices import GyThermometerSim, SerialBadgeSim
from simulator.platform.platform import Platform
from tests.conftest import TZ, make_config
from tests.fixtures_mqtt import broker_fixture, platform_fixture, wait_until  # noqa: F401
from tests.fixtures_serial_stations import STAFF

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
MORNING = datetime(2026, 11, 30, 7, 30, tzinfo=TZ)
MANAGER, PASSWORD = "boss", "kitchen-secret-1"
FAST = {"reconnect_s": 0.05, "reconnect_max_s": 0.2}
STATION = "mc-1"
MENU = [{"name": "番茄炒蛋"}, {"name": "米饭"}]  # the public page's menu (kitchens with the public side)
SCREENSHOTS = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tempfile.gettempdir()) / "console-shots"


class Kitchen:
    """One morning-check station and the agent behind it, on ``clock`` (a ManualClock)."""

    def __init__(self, tmp_path: Path, broker_port: int, broker: dict[str, Any] | None = None,
                 public_config: dict[str, Any] | None = None, wait_public: bool = True, **console: Any) -> None:
        self.thermo = GyThermometerSim(link_path=tmp_path / "thermo").start()
        self.badge = SerialBadgeSim(link_path=tmp_path / "badge").start()
        devices = [
            {"id": "thermo-1", "kind": "ir_thermometer", "protocol": "gy90615", "port": self.thermo.path, **FAST},
            {"id": "badge-mc", "kind": "badge_reader", "protocol": "serial_line", "port": self.badge.path, **FAST},
        ]
        stations = [{"id": STATION, "kind": "morning_check", "badge": "badge-mc", "thermometer": "thermo-1"}]
        config = make_config(
            tmp_path, devices=devices, stations=stations, vision={"enabled": False},
            broker={"host": "127.0.0.1", "port": broker_port, "reconnect_min_s": 0.2, "reconnect_max_s": 1,
                    **(broker or {})},
            console={"enabled": True, "port": 0, "login_attempts": 3, **console},
            public=public_config or {"enabled": False},
            site={"staff": STAFF, **({"menu": MENU} if public_config else {})})
        self.clock = ManualClock(MORNING)
        self.agent = Agent(config, now=self.clock, clock=ClockMonitor(lambda: (True, "test")))
        add_user(self.agent.store, MANAGER, "manager", PASSWORD, MORNING)
        wanted = ("reading-bus", "uplink", "console", "public")
        for component in self.agent.components:  # no schedule: the test's clock stands still
            if component.name in wanted or component.name.startswith("serial-"):
                self.agent.supervisor.start(component)
        assert self.agent.console.server is not None
        self.console = self.agent.console.server
        assert self.console.started.wait(10), "console did not start"
        self.url = f"http://127.0.0.1:{self.console.port}"
        self.public_url = ""
        if self.agent.public.server is not None and wait_public:
            assert self.agent.public.server.started.wait(10), "public listener did not start"
            self.public_url = f"http://127.0.0.1:{self.agent.public.server.port}"
        wait_until(lambda: all(self.agent.devices.snapshot().get(d, {}).get("state") == "ok"
                               for d in ("thermo-1", "badge-mc")), message="devices ok")

    def check(self, card: str, celsius: float) -> None:
        """A person badges and holds their forehead to the thermometer."""
        self.clock.advance(5)  # a fresh scan (readers' repeat suppression is 3 s)
        self.badge.scan(card)
        time.sleep(0.3)
        self.thermo.present(celsius)

    def close(self) -> None:
        self.agent.stop()
        for sim in (self.thermo, self.badge):
            sim.stop()


@pytest.fixture(name="kitchen")
def kitchen_fixture(tmp_path: Path, broker: Any, platform: Platform) -> Iterator[Kitchen]:
    kitchen = Kitchen(tmp_path, broker.port)
    yield kitchen
    kitchen.close()


@pytest.fixture(name="browser", scope="module")
def browser_fixture() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: ./dev.sh test installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def clean_screenshots() -> None:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
