"""Malformed inbound messages against a real Mosquitto: refused, answered, acknowledged.

A deeply nested ack or command used to raise RecursionError inside paho's message
callback: the uplink died before the PUBACK, the broker redelivered the payload at
every reconnect, and the acks behind it were never applied.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from agent.app import Agent
from agent.config_file.loader import load_config
from agent.records.staff_health_check import StaffHealthCheck
from simulator.platform.broker import Broker

from .fixtures_mqtt import MqttTestClient, broker_fixture, wait_until  # noqa: F401

AGENT = "a1"
ROOT = f"scfs/v1/{AGENT}"
DEEP_ACK = b'{"ids": ' + b"[" * 2000 + b"]" * 2000 + b"}"
DEEP_COMMAND = (b'{"id": "c-deep", "name": "ping", "args": {"x": ' + b"[" * 5000 + b"]" * 5000
                + b'}, "issued_at": "2026-12-01T10:00:00+08:00", "expires_at": (agent.now() + timedelta(minutes=1)).isoformat()}')


def make_agent(tmp_path: Path, port: int) -> Agent:
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "identity": {"agent_id": AGENT, "school_id": "5101040042", "canteen_id": "k1"},
        "broker": {"host": "127.0.0.1", "port": port, "keepalive_s": 5, "reconnect_min_s": 0.2,
                   "reconnect_max_s": 1, "ack_timeout_s": 60},
        "store": {"path": str(tmp_path / "agent.db"), "media_dir": str(tmp_path / "media")},
        "vision": {"enabled": False}, "console": {"enabled": False},
    }))
    return Agent(load_config(path, {}), config_path=path)


def record(agent: Agent, n: int) -> str:
    saved = agent.recorder.record(StaffHealthCheck(staff_id=f"S{n}", temperature_c=36.5,
                                                   normal_range_c=(35.9, 37.3)))
    return saved.id


def all_acked(agent: Agent, ids: list[str]) -> bool:
    # these ids, not the whole outbox: the agent's own records (a daily ledger after 23:55)
    # wait there too, and the hand-driven platform acks none of them
    return not any(agent.store.in_outbox(i) for i in ids)


@pytest.fixture
def platform_side(broker: Broker):
    """A hand-driven platform: sees what the agent sends, acks and commands by hand."""
    client = MqttTestClient(broker.port, "platform-by-hand")
    client.subscribe(f"{ROOT}/#")
    yield client
    client.close()


def results(client: MqttTestClient) -> list[dict]:
    return [json.loads(m.payload) for m in client.received(f"{ROOT}/cmd/res")]


def test_deep_ack_is_refused_and_the_acks_behind_it_are_applied(tmp_path: Path, broker: Broker,
                                                                platform_side: MqttTestClient) -> None:
    agent = make_agent(tmp_path, broker.port)
    agent.start()
    try:
        ids = [record(agent, n) for n in range(5)]
        wait_until(lambda: len(platform_side.received(f"{ROOT}/rec/staff_health_check")) >= 5,
                   message="records published")
        assert not platform_side.publish(f"{ROOT}/ack", DEEP_ACK).is_failure
        assert not platform_side.publish(f"{ROOT}/ack", b'{"ids": 7}').is_failure  # wrong shape
        assert not platform_side.publish(f"{ROOT}/ack", b"\xff\xfe not json").is_failure
        assert not platform_side.publish(f"{ROOT}/ack", json.dumps({"ids": ids})).is_failure
        wait_until(lambda: all_acked(agent, ids), message="the good ack applied")
        wait_until(lambda: agent.uplink.inbound_refused == 3, message="three refused")
        # never crashed, never reconnected: the broker got its PUBACKs
        assert agent.uplink.connects == 1
        assert agent.supervisor.restarts["uplink"] == 0
        assert agent.uplink.connected.is_set()
    finally:
        agent.stop()
    assert "Caught exception" not in broker.log_text()


def test_deep_command_is_answered_with_a_reason_and_the_uplink_carries_on(
        tmp_path: Path, broker: Broker, platform_side: MqttTestClient) -> None:
    agent = make_agent(tmp_path, broker.port)
    agent.start()
    try:
        wait_until(agent.uplink.connected.is_set, message="agent connected")
        assert not platform_side.publish(f"{ROOT}/cmd", DEEP_COMMAND).is_failure
        answer = wait_until(lambda: [r for r in results(platform_side) if r["id"] == "c-deep"],
                            message="an answer to the deep command")[0]
        assert answer["ok"] is False and "nested deeper than" in answer["error"]
        too_big = b'{"id": "c-big", "pad": "' + b"x" * (1024 * 1024) + b'"}'
        assert not platform_side.publish(f"{ROOT}/cmd", too_big).is_failure
        answer = wait_until(lambda: [r for r in results(platform_side) if r["id"] == "c-big"],
                            message="an answer to the oversized command")[0]
        assert answer["ok"] is False and "too large" in answer["error"]
        ids = [record(agent, n) for n in range(3)]
        wait_until(lambda: len(platform_side.received(f"{ROOT}/rec/staff_health_check")) >= 3,
                   message="records still flow")
        platform_side.publish(f"{ROOT}/ack", json.dumps({"ids": ids}))
        wait_until(lambda: all_acked(agent, ids), message="acks still applied")
        assert agent.uplink.connects == 1 and agent.supervisor.restarts["uplink"] == 0
    finally:
        agent.stop()


def test_retained_deep_command_does_not_crash_every_connect(tmp_path: Path, broker: Broker,
                                                           platform_side: MqttTestClient) -> None:
    assert not platform_side.publish(f"{ROOT}/cmd", DEEP_COMMAND, retain=True).is_failure
    agent = make_agent(tmp_path, broker.port)
    agent.start()
    try:
        wait_until(lambda: [r for r in results(platform_side) if r["id"] == "c-deep"],
                   message="the retained command answered")
        ids = [record(agent, n) for n in range(3)]
        wait_until(lambda: len(platform_side.received(f"{ROOT}/rec/staff_health_check")) >= 3,
                   message="records published")
        platform_side.publish(f"{ROOT}/ack", json.dumps({"ids": ids}))
        wait_until(lambda: all_acked(agent, ids), message="acks applied")
        ping = {"id": "c-ping", "name": "ping", "args": {}, "issued_at": agent.now().isoformat(),
                "expires_at": (agent.now() + timedelta(minutes=1)).isoformat()}
        platform_side.publish(f"{ROOT}/cmd", json.dumps(ping))
        answer = wait_until(lambda: [r for r in results(platform_side) if r["id"] == "c-ping"],
                            message="a later command answered")[0]
        assert answer["ok"] is True
        assert agent.uplink.connects == 1 and agent.supervisor.restarts["uplink"] == 0
    finally:
        agent.stop()
        platform_side.publish(f"{ROOT}/cmd", b"", retain=True)  # clear the retained message


# --- the bounded decoder itself (no broker) ---------------------------------------------


def test_depth_scan_ignores_brackets_inside_strings_and_finds_the_outer_id() -> None:
    from agent.uplink.inbound import nesting_depth, top_level_id

    assert nesting_depth(b'{"a": "[[[[\\"{{{", "b": [[1]]}', 32) == 3
    assert top_level_id(b'{"name": "id", "args": {"id": "inner"}, "id": "c-9", "x": ' + b"[" * 99) == "c-9"
    assert top_level_id(b'{"args": {"id": "inner"}}') is None


def test_pathological_strings_are_scanned_in_linear_time() -> None:
    """Unterminated or escape-heavy strings: a backtracking scan would take minutes."""
    from agent.uplink.inbound import COMMAND_MAX_BYTES, InboundError, decode_json

    for payload in (b'{"a": "' + b"x" * (COMMAND_MAX_BYTES - 10), b'"\\"' * (COMMAND_MAX_BYTES // 3 - 1)):
        started = time.process_time()
        with pytest.raises(InboundError):
            decode_json(payload, max_bytes=COMMAND_MAX_BYTES)
        assert time.process_time() - started < 5
