"""Resending what the platform has not acked, counted at a real Mosquitto.

A platform that never acks used to make the agent republish the whole outbox every
ack timeout (4,000 records became 17,600 publishes in 36 s at a 5 s timeout). Now each
item waits twice as long after each resend, and resends stay within a byte budget per
minute. After a broker restart without persistence, what was sent before the platform
came back is resent within seconds, not after the ack timeout.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import yaml

from agent.app import Agent
from agent.config_file.loader import load_config
from agent.records.staff_health_check import StaffHealthCheck
from simulator.platform.broker import Broker
from simulator.platform.platform import Platform

from .fixtures_mqtt import MqttTestClient, broker_fixture, wait_until  # noqa: F401

AGENT = "a1"
ROOT = f"scfs/v1/{AGENT}"


def make_agent(tmp_path: Path, port: int, **broker: object) -> Agent:
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "identity": {"agent_id": AGENT, "school_id": "5101040042", "canteen_id": "k1"},
        "broker": {"host": "127.0.0.1", "port": port, "keepalive_s": 5, "reconnect_min_s": 0.2,
                   "reconnect_max_s": 1, **broker},
        "store": {"path": str(tmp_path / "agent.db"), "media_dir": str(tmp_path / "media")},
        "vision": {"enabled": False}, "console": {"enabled": False},
    }))
    return Agent(load_config(path, {}), config_path=path)


def record(agent: Agent, n: int) -> str:
    return agent.recorder.record(StaffHealthCheck(staff_id=f"S{n}", temperature_c=36.5,
                                                  normal_range_c=(35.9, 37.3))).id


def outbox_depth(agent: Agent) -> int:
    return sum(d.count for d in agent.store.outbox_depth())


class Counter:
    """A subscriber that never acks: it only notes when each record passed the broker."""

    def __init__(self, broker: Broker) -> None:
        self.client = MqttTestClient(broker.port, "counter")
        self.client.subscribe(f"{ROOT}/rec/#", qos=0)
        self.times: dict[str, list[float]] = {}
        self.client.client.on_message = self._on_message
        self.bytes = 0

    def _on_message(self, _client: object, _userdata: object, message) -> None:  # noqa: ANN001
        import json

        self.times.setdefault(json.loads(message.payload)["id"], []).append(time.monotonic())
        self.bytes += len(message.payload)

    @property
    def publishes(self) -> int:
        return sum(len(t) for t in self.times.values())


def test_resends_to_a_platform_that_never_acks_stay_within_the_byte_budget(tmp_path: Path,
                                                                          broker: Broker) -> None:
    counter = Counter(broker)
    budget = 20_000  # bytes per minute
    agent = make_agent(tmp_path, broker.port, ack_timeout_s=1, resend_max_bytes_per_min=budget)
    agent.start()
    try:
        wait_until(agent.uplink.connected.is_set, message="connected")
        ids = [record(agent, n) for n in range(150)]
        # (the agent's own records pass too, and are counted alike: a daily ledger after 23:55)
        wait_until(lambda: set(ids) <= counter.times.keys(), message="every record published once")
        first_bytes, first_sends, started = counter.bytes, len(counter.times), time.monotonic()
        # the byte budget holds resends back: what proves the resends stay within it
        delivery = agent.uplink.delivery
        wait_until(lambda: delivery.deferred_total > 0, timeout=30, message="resends deferred")
        # the budget is counted when the resends are chosen; wait until they have passed the broker
        wait_until(lambda: counter.publishes >= first_sends + delivery.resent_total, message="resends seen")
        window = time.monotonic() - started
        resent = counter.bytes - first_bytes
        size = first_bytes / first_sends
        # the bucket starts full (one minute's budget), then refills at budget/60 a second
        assert resent <= budget + budget * window / 60 + 2 * size, (resent, counter.publishes)
        assert resent > 0  # overdue items are resent, within the budget
        assert all(agent.store.in_outbox(i) for i in ids)  # nothing dropped: only the platform's ack removes
    finally:
        agent.stop()
        counter.client.close()


def test_each_unacked_item_waits_twice_as_long_after_each_resend(tmp_path: Path, broker: Broker) -> None:
    counter = Counter(broker)
    agent = make_agent(tmp_path, broker.port, ack_timeout_s=0.5)
    agent.start()
    try:
        wait_until(agent.uplink.connected.is_set, message="connected")
        ids = [record(agent, n) for n in range(3)]
        wait_until(lambda: all(len(counter.times.get(i, [])) >= 5 for i in ids), timeout=20,
                   message="five sends of each record")
    finally:
        agent.stop()
        counter.client.close()
    for item_id in ids:
        sent = counter.times[item_id]
        gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
        # 0.5, 1, 2, 4 s ...: the first is the ack timeout (checked 4 times a second), then doubling
        assert 0.45 < gaps[0] < 0.9 and 0.95 < gaps[1] < 1.4, gaps
        for shorter, longer in zip(gaps[1:], gaps[2:], strict=False):
            assert 1.7 * shorter < longer < 2.3 * shorter, gaps


def test_after_a_broker_restart_without_persistence_what_was_sent_early_is_resent_soon(
        tmp_path: Path, broker: Broker) -> None:
    """The demo's stall: the agent reconnects first, resends into a broker with no platform
    subscription yet, and (before) waited the whole ack timeout (20 s) to try again."""
    agent = make_agent(tmp_path, broker.port, ack_timeout_s=20)
    agent.start()
    platform = None
    try:
        wait_until(agent.uplink.connected.is_set, message="connected")
        broker.stop()
        for n in range(15):
            record(agent, n)
        shutil.rmtree(broker.data_dir)  # restarted without persistence: no sessions survive
        broker.data_dir.mkdir()
        broker.start()
        wait_until(lambda: agent.uplink.connects >= 2, timeout=15, message="agent reconnected")
        # the agent's sends reach no one: the platform is not back yet
        wait_until(lambda: agent.uplink.delivery.published_total >= 15, message="all sent into the void")
        platform = Platform("127.0.0.1", broker.port, tmp_path / "platform.db",
                            client_id="platform-1").start()
        back = time.monotonic()
        wait_until(lambda: outbox_depth(agent) == 0, timeout=10, message="outbox drained")
        assert time.monotonic() - back < 10  # well before the 20 s ack timeout
        assert len([r for r in platform.records(agent_id=AGENT) if r["type"] == "staff_health_check"]) == 15
    finally:
        agent.stop()
        if platform is not None:
            platform.stop()
