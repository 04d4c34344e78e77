"""Signed commands bound to their agent and to time, through a real broker and the
reference platform's signer.

Before: a ping signed for another agent's topic ran when republished on ours, one
issued 3 days in the future ran, one expiring in 9999 was accepted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.app import Agent
from agent.config_file.loader import load_config
from simulator.platform.broker import Broker
from simulator.platform.commands import build_command, public_key_b64
from simulator.platform.platform import Platform

from .fixtures_mqtt import broker_fixture, platform_fixture, wait_until  # noqa: F401


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def agent(tmp_path: Path, broker: Broker, key: Ed25519PrivateKey):
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "identity": {"agent_id": "a1", "school_id": "5101040042", "canteen_id": "k1"},
        "broker": {"host": "127.0.0.1", "port": broker.port, "keepalive_s": 5, "reconnect_min_s": 0.2,
                   "reconnect_max_s": 1, "platform_public_key": public_key_b64(key)},
        "store": {"path": str(tmp_path / "agent.db"), "media_dir": str(tmp_path / "media")},
        "vision": {"enabled": False}, "console": {"enabled": False},
    }))
    agent = Agent(load_config(path, {}), config_path=path)
    agent.start()
    wait_until(agent.uplink.connected.is_set, message="agent connected")
    yield agent
    agent.stop()


def test_a_command_signed_for_another_agent_is_refused_when_republished(agent: Agent, platform: Platform,
                                                                       key: Ed25519PrivateKey) -> None:
    ours = platform.send_command("a1", "ping", sign_with=key, timeout=10)
    assert ours["ok"], ours
    theirs = build_command("ping", agent_id="a2", sign_with=key)  # valid, for a2
    platform.publish_command("a1", theirs)  # ... republished on a1's topic
    answer = platform.wait_result(theirs["id"], timeout=10)
    assert answer["ok"] is False and answer["error"] == "for another agent: 'a2'"


@pytest.mark.parametrize(("issued_in", "expires_in", "reason"), [
    (timedelta(days=3), 60, "issued in the future"),
    (timedelta(0), (datetime(9999, 1, 1, tzinfo=UTC) - datetime.now(UTC)).total_seconds(), "validity too long"),
    (timedelta(0), 3600 + 1, "validity too long"),
], ids=["issued-in-3-days", "valid-until-9999", "valid-for-1h-1s"])  # stable ids: pytest-xdist workers collect alike
def test_commands_from_the_future_or_valid_for_too_long_are_refused(
        agent: Agent, platform: Platform, key: Ed25519PrivateKey, issued_in: timedelta, expires_in: float,
        reason: str) -> None:
    command = build_command("ping", agent_id="a1", sign_with=key, expires_in=expires_in,
                            now=agent.now() + issued_in)
    platform.publish_command("a1", command)
    answer = platform.wait_result(command["id"], timeout=10)
    assert answer["ok"] is False and reason in answer["error"], answer
