"""The agent against a clustered broker: RabbitMQ's MQTT plugin, three nodes, started here.

RabbitMQ 3.10 (Debian 12's) speaks MQTT 3.1.1 only: the agent (``protocol: auto``) falls
back to it; the reference platform speaks 3.1.1 with a durable session. The agent is
given every node's address and fails over when its node goes away; its session (a
quorum queue) lives on in the cluster. One cluster serves the whole module (booting one
takes tens of seconds); each test uses its own agent id and platform client id.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from agent.app import Agent
from agent.config_file.loader import load_config
from agent.ops.doctor.broker import check_broker
from agent.records.food_sample import FoodSample
from agent.records.staff_health_check import StaffHealthCheck
from simulator.platform.platform import Platform
from simulator.platform.rabbitmq import RabbitCluster, rabbitmq_available

from .fixtures_mqtt import wait_until

pytestmark = pytest.mark.skipif(not rabbitmq_available(), reason="rabbitmq-server not installed")


@pytest.fixture(scope="module", name="cluster")
def cluster_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitCluster]:
    cluster = RabbitCluster(tmp_path_factory.mktemp("rabbitmq"), nodes=3).start()
    yield cluster
    cluster.stop()


def agent_config(tmp_path: Path, agent_id: str, addresses: list[str]) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "identity": {"agent_id": agent_id, "school_id": "5101040042", "canteen_id": "k1"},
        "broker": {"addresses": addresses, "keepalive_s": 5, "reconnect_min_s": 0.2, "reconnect_max_s": 2,
                   "ack_timeout_s": 20},
        "store": {"path": str(tmp_path / "agent" / "agent.db"), "media_dir": str(tmp_path / "agent" / "media")},
        "vision": {"enabled": False}, "console": {"enabled": False},
    }))
    return path


def produce(agent: Agent, count: int, rate: float, produced: list[str]) -> None:
    for n in range(count):
        now = agent.now()
        if n % 4 == 0:
            saved = agent.recorder.record(StaffHealthCheck(staff_id=f"S{n}", temperature_c=36.5,
                                                           normal_range_c=(35.9, 37.3)))
        else:
            saved = agent.recorder.record(FoodSample(meal="lunch", dish=f"d{n}", grams=130, min_grams=125,
                                                     sampled_at=now, kept_until=now + timedelta(hours=48)))
        produced.append(saved.id)
        time.sleep(1 / rate)


def outbox_empty(agent: Agent) -> bool:
    return sum(d.count for d in agent.store.outbox_depth()) == 0


def node_of(cluster: RabbitCluster, agent: Agent) -> int:
    host, port = agent.uplink.link.endpoints[agent.uplink.link.current]
    return next(n.index for n in cluster.nodes if n.address == (host, port))


def test_exactly_once_through_the_cluster_with_a_node_stopped_and_started(
        cluster: RabbitCluster, tmp_path: Path) -> None:
    """1,500 records stream while the agent's own node is stopped (graceful) and started
    again, then the platform's node: the agent fails over to another node in MQTT 3.1.1,
    the platform too, each keeps its session, and the platform holds every record
    exactly once."""
    addresses = [f"{h}:{p}" for h, p in cluster.addresses]
    # the platform prefers the last node, the agent the first: they start apart
    platform = Platform(db_path=tmp_path / "platform.db", client_id="platform-once", durable=True,
                        protocol="mqtt311", addresses=list(reversed(cluster.addresses)),
                        media_dir=tmp_path / "platform-media").start(timeout=30)
    agent = Agent(load_config(agent_config(tmp_path, "once1", addresses), {}))
    agent.start()
    stopped: int | None = None
    try:
        wait_until(agent.uplink.connected.is_set, timeout=30, message="agent connected")
        assert agent.uplink.link.protocol == "mqtt311"  # RabbitMQ 3.10 has no MQTT 5
        produced: list[str] = []
        producer = threading.Thread(target=produce, args=(agent, 1500, 100, produced))
        producer.start()
        wait_until(lambda: len(produced) > 300, timeout=30, message="records flowing")
        stopped = node_of(cluster, agent)
        connects = agent.uplink.connects
        cluster.nodes[stopped].stop()
        wait_until(lambda: agent.uplink.connects > connects and agent.uplink.connected.is_set(),
                   timeout=60, message="agent failed over to another node")
        assert node_of(cluster, agent) != stopped
        cluster.nodes[stopped].start().wait_up(120)
        stopped = None
        # then the platform's node: the platform fails over, its durable session kept what came meanwhile
        stopped = next(n.index for n in cluster.nodes if n.address == (platform.host, platform.port))
        cluster.nodes[stopped].stop()
        wait_until(lambda: platform.connected.is_set() and (platform.host, platform.port)
                   != cluster.nodes[stopped].address, timeout=60, message="platform failed over")
        cluster.nodes[stopped].start().wait_up(120)
        stopped = None
        producer.join()
        wait_until(lambda: outbox_empty(agent), timeout=120, message="outbox drained")
        # every record stored reaches the platform once: the 1,500 and any the agent wrote
        # itself meanwhile (a daily ledger after 23:55)
        stored = {r["id"] for r in agent.store.iter_records()}
        assert set(produced) <= stored and len(set(produced)) == 1500
        rows = platform.store.query("SELECT id FROM records WHERE agent_id=?", ("once1",))
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids))  # each id kept once (a resend is a counted duplicate)
        assert set(ids) == stored, f"missing {len(stored - set(ids))}, unexpected {len(set(ids) - stored)}"
    finally:
        agent.stop()
        platform.stop()
        if stopped is not None:
            cluster.nodes[stopped].start().wait_up(120)


def test_doctor_checks_every_address_and_speaks_3_1_1(cluster: RabbitCluster, tmp_path: Path) -> None:
    """The doctor looks at each broker address, each row named after it; RabbitMQ answers
    MQTT 3.1.1 only, and a port that is no MQTT listener (a node's AMQP port) fails."""
    good = [f"{h}:{p}" for h, p in cluster.addresses[1:]]
    not_mqtt = f"127.0.0.1:{cluster.nodes[0].amqp_port}"
    config = load_config(agent_config(tmp_path, "doctor1", [*good, not_mqtt]), {})
    rows = {c.name: c for c in check_broker(config, timeout_s=5)}
    for address in good:
        assert rows[f"broker tcp {address}"].ok
        assert rows[f"broker mqtt {address}"].ok, rows
        assert rows[f"broker mqtt {address}"].detail == "MQTT 3.1.1 CONNECT accepted"
    assert rows[f"broker tcp {not_mqtt}"].ok
    refused = rows[f"broker mqtt {not_mqtt}"]
    assert not refused.ok and "fails over" in refused.fix, refused
