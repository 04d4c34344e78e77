"""Shared fixtures. Each capability's own fixtures live in tests/fixtures_*.py."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent.config_file.model import AgentConfig

from .helpers import local_time

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
TZ = ZoneInfo("Asia/Shanghai")
# the Debian package, built once per session, and its install into a throwaway root
pytest_plugins = ["tests.fixtures_package"]

# This machine's clock is not NTP-disciplined (adjtimex says TIME_ERROR): declare it trusted
# for every test (and the agents they start) unless a test says otherwise, so the
# clock_unsynced alarm appears only where a test is about the clock (tests/test_clock.py).
os.environ.setdefault("CANTEEN_CLOCK_SYNCED", "1")
local_time.install()  # CANTEEN_TEST_LOCAL_TIME=HH:MM: the suite at another hour of the day

# Modules that take minutes run first. On two workers a long module left to the end keeps
# one worker busy while the other idles; and test_package builds the Debian packages that
# test_update_e2e installs (tests/fixtures_package.py), so starting it first lets the other
# worker run the rest meanwhile instead of waiting on the build's lock for three minutes.
LONG_MODULES_FIRST = ("test_package.py", "test_uplink_e2e.py", "test_demo.py", "test_update_e2e.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: n for n, name in enumerate(LONG_MODULES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


@pytest.fixture(autouse=True)
def _commands_on_the_real_clock_until_an_agent_is_made() -> None:
    local_time.reset()  # (a no-op unless CANTEEN_TEST_LOCAL_TIME shifts the agents' clocks)


def make_config(tmp_path: Path, **sections) -> AgentConfig:
    data = {
        "identity": {"agent_id": "test-agent", "school_id": "5101040042", "canteen_id": "k1"},
        "store": {"path": str(tmp_path / "agent.db"), "media_dir": str(tmp_path / "media")},
        "console": {"enabled": False},  # tests that want the console's HTTP server ask for it
    }
    data.update(sections)
    return AgentConfig.model_validate(data)


@pytest.fixture
def config(tmp_path: Path) -> AgentConfig:
    return make_config(tmp_path)


@pytest.fixture
def morning() -> datetime:
    return datetime(2026, 11, 30, 7, 30, tzinfo=TZ)
