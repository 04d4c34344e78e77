"""A config from set_config is tried, and rolled back when the agent cannot reach the
broker with it; the platform hears about it after the agent is back on the old config.

Before: a signed set_config that validated but pointed at a port nothing listens on was
answered ok, and the agent was cut off for good.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import yaml

from agent.config_file.loader import load_config
from simulator.platform.broker import Broker, free_port
from simulator.platform.platform import Platform

from .conftest import REPO
from .fixtures_mqtt import broker_fixture, wait_until  # noqa: F401

AGENT = "a1"


def write_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "identity": {"agent_id": AGENT, "school_id": "5101040042", "canteen_id": "k1"},
        "broker": {"host": "127.0.0.1", "port": port, "keepalive_s": 5, "reconnect_min_s": 0.2,
                   "reconnect_max_s": 1, "config_trial_s": 4},
        "store": {"path": str(tmp_path / "agent" / "agent.db"), "media_dir": str(tmp_path / "agent" / "media")},
        "vision": {"enabled": False}, "console": {"enabled": False},
    }))
    return path


def start_cli_agent(config: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "agent", "run", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def online_with(platform: Platform, digest: str) -> dict | None:
    status = platform.status(AGENT)
    return status if status and status.get("online") and status.get("config_sha256") == digest else None


def test_unreachable_config_is_rolled_back_and_reported(tmp_path: Path, broker: Broker) -> None:
    platform = Platform("127.0.0.1", broker.port, tmp_path / "platform.db", client_id="platform-1").start()
    config = write_config(tmp_path, broker.port)
    good = sha(config)
    proc = start_cli_agent(config)
    try:
        wait_until(lambda: online_with(platform, good), timeout=30, message="agent online")
        # valid, but nothing listens there: the agent would be cut off for good
        answer = platform.send_command(AGENT, "set_config", {"config": {"broker": {"port": free_port()}}},
                                       timeout=30)
        assert answer["ok"] and answer["result"]["trial_s"] == 4, answer
        status = wait_until(lambda: online_with(platform, good) if platform.status(AGENT).get("config_rollback")
                            else None, timeout=40, message="back online with the old config, rollback reported")
        assert "not connected to the broker within 4 s" in status["config_rollback"]["reason"]
        assert status["config_rollback"]["changed"] == ["broker"]
        alarms = wait_until(lambda: [a for a in platform.records(agent_id=AGENT, type="alarm")
                                     if a["data"]["kind"] == "config_rolled_back"], timeout=20,
                            message="the rollback alarm at the platform")
        assert alarms[0]["data"]["state"] == "raised" and alarms[0]["data"]["details"]["changed"] == ["broker"]
        assert sha(config) == good and load_config(config, {}).broker.port == broker.port
        assert not config.with_name("agent.yaml.trial").exists()

        # a config that works is confirmed, stays, and clears the alarm
        fine = platform.send_command(AGENT, "set_config", {"config": {"rules": {"food_sample": {"min_grams": 150}}}},
                                     timeout=30)
        assert fine["ok"], fine
        new = sha(config)
        assert new != good
        wait_until(lambda: online_with(platform, new), timeout=30, message="online with the new config")
        wait_until(lambda: [a for a in platform.records(agent_id=AGENT, type="alarm")
                            if a["data"]["kind"] == "config_rolled_back" and a["data"]["state"] == "cleared"],
                   timeout=20, message="the rollback alarm cleared")
        wait_until(lambda: not config.with_name("agent.yaml.trial").exists(), timeout=10, message="confirmed")
        now = platform.send_command(AGENT, "get_status", timeout=30)
        assert now["ok"] and now["result"]["config_rollback"] is None
    finally:
        proc.terminate()
        proc.wait(20)
        platform.stop()
    assert load_config(config, {}).rules.food_sample.min_grams == 150
