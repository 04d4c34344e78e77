"""Shared fixtures. Each capability's own fixtures live in tests/fixtures_*.py."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent.config_file.model import AgentConfig

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
TZ = ZoneInfo("Asia/Shanghai")

# This machine's clock is not NTP-disciplined (adjtimex says TIME_ERROR): declare it trusted
# for every test (and the agents they start) unless a test says otherwise, so the
# clock_unsynced alarm appears only where a test is about the clock (tests/test_clock.py).
os.environ.setdefault("CANTEEN_CLOCK_SYNCED", "1")


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
