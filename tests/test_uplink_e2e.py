"""The uplink against a real Mosquitto and the reference platform.

Nothing accepted is lost and nothing arrives twice (after dedup) across broker
restarts and kills, agent SIGKILLs and a frozen broker; TLS is enforced; media
survives a broker restart mid-transfer; commands reach the agent and set_config
survives a restart.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from agent.app import Agent
from agent.config_file.loader import load_config
from agent.ops.doctor.broker import check_broker
from agent.records.food_sample import FoodSample
from agent.records.staff_health_check import StaffHealthCheck
from simulator.platform.broker import Broker
from simulator.platform.certs import make_test_certs
from simulator.platform.platform import Platform

from .conftest import REPO
from .fixtures_mqtt import (  # noqa: F401
    MqttTestClient,
    broker_factory_fixture,
    broker_fixture,
    tls_broker_fixture,
    wait_until,
)

AGENT = "a1"


def agent_config(tmp_path: Path, port: int, **broker: object) -> Path:
    path = tmp_path / "agent.yaml"
    data = {
        "identity": {"agent_id": AGENT, "school_id": "5101040042", "canteen_id": "k1"},
        "broker": {"host": "127.0.0.1", "port": port, "keepalive_s": 5, "reconnect_min_s": 0.2,
                   "reconnect_max_s": 2, "ack_timeout_s": 20, **broker},
        "store": {"path": str(tmp_path / "agent" / "agent.db"), "media_dir": str(tmp_path / "agent" / "media")},
        "vision": {"enabled": False}, "console": {"enabled": False},
    }
    path.write_text(yaml.safe_dump(data))
    return path


def start_platform(broker: Broker, tmp_path: Path, port: int | None = None, *, durable: bool = False) -> Platform:
    # A persistent session: messages reaching the broker while the platform reconnects wait for it.
    return Platform("127.0.0.1", port or broker.port, tmp_path / "platform.db", client_id="platform-1",
                    media_dir=tmp_path / "platform-media", durable=durable).start()


PRODUCED_TYPES = frozenset({"alarm", "staff_health_check", "food_sample"})


def produce(agent: Agent, count: int, rate: float) -> list[str]:
    """Records of three classes (alarms, health checks, samples), paced."""
    ids = []
    for n in range(count):
        now = agent.now()
        if n % 50 == 0:
            saved = agent.recorder.raise_alarm("cold_chain_high", {"device_id": f"fridge-{n}"}, "warm")
        elif n % 4 == 0:
            saved = agent.recorder.record(StaffHealthCheck(staff_id=f"S{n}", temperature_c=36.5,
                                                           normal_range_c=(35.9, 37.3)))
        else:
            saved = agent.recorder.record(FoodSample(meal="lunch", dish=f"d{n}", grams=130, min_grams=125,
                                                     sampled_at=now, kept_until=now + timedelta(hours=48)))
        ids.append(saved.id)
        time.sleep(1 / rate)
    return ids


def outbox_empty(agent_or_store) -> bool:
    store = getattr(agent_or_store, "store", agent_or_store)
    return sum(d.count for d in store.outbox_depth()) == 0


def only_records_queued(agent: Agent) -> bool:
    """The outbox holds nothing but the agent's stored records (no platform acks them in a
    test without one: after 23:55 a fresh agent writes that day's ledger at once)."""
    return not agent.store.query("SELECT id FROM outbox WHERE id NOT IN (SELECT id FROM records)")


CLASS_OF = {"alarm": 0, "staff_health_check": 1}


def assert_exactly_once_in_order(platform: Platform, expected_ids: set[str], check_order: bool = True) -> None:
    # the kinds produce() makes: the agent's own sweep may add others meanwhile (a 整改单 for a
    # cold-chain alarm left open, agent/core/tasks.py), which are not this test's to count
    rows = [r for r in platform.store.query("SELECT id, type, seq FROM records WHERE agent_id=? ORDER BY rowid",
                                            (AGENT,)) if r["type"] in PRODUCED_TYPES]
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))  # the platform keeps each id once
    assert set(ids) == expected_ids, f"missing {len(expected_ids - set(ids))}, unexpected {len(set(ids) - expected_ids)}"
    by_class: dict[int, list[int]] = {}
    for r in rows:
        by_class.setdefault(CLASS_OF.get(r["type"], 2), []).append(r["seq"])
    for cls, seqs in by_class.items():
        assert not check_order or seqs == sorted(seqs), f"class {cls} arrived out of seq order"


@pytest.mark.parametrize("hard", [False, True], ids=["sigterm", "sigkill"])
def test_broker_killed_and_restarted_while_streaming(tmp_path: Path, broker: Broker, hard: bool) -> None:
    """Six broker restarts while 5,000 records stream: every record exactly once.

    After SIGTERM restarts each class also arrives in seq order. A SIGKILL can make the
    broker lose messages it had already acknowledged (not yet saved); the agent sends
    them again, so they arrive exactly once but may follow later ones of their class.

    Mosquitto 2.0.11 does not keep shared subscriptions across its restart, nor a session
    begun with clean start: when the agent reconnects before the platform has subscribed
    again, what it sends meanwhile is lost the same way. So the order is checked with a
    durable platform, whose subscriptions the broker keeps; the SIGKILL run has the
    reference platform's shared subscriptions.
    """
    platform = start_platform(broker, tmp_path, durable=not hard)
    agent = Agent(load_config(agent_config(tmp_path, broker.port), {}))
    agent.start()
    try:
        produced: list[str] = []
        producer = threading.Thread(target=lambda: produced.extend(produce(agent, 5000, rate=600)))
        producer.start()
        for _ in range(6):
            time.sleep(0.9)
            broker.restart(hard=hard)
        producer.join()
        wait_until(lambda: outbox_empty(agent), timeout=120, message="outbox drained")
        assert len(produced) == 5000
        stored = {r["id"] for r in agent.store.iter_records() if r["type"] in PRODUCED_TYPES}
        assert_exactly_once_in_order(platform, stored, check_order=not hard)
        assert agent.uplink.connects >= 7
    finally:
        agent.stop()
        platform.stop()


def test_agent_sigkilled_mid_stream(tmp_path: Path, broker: Broker) -> None:
    platform = start_platform(broker, tmp_path)
    try:
        config = agent_config(tmp_path, broker.port)
        total, rng = 3000, random.Random(7)
        promised: set[str] = set()
        for _ in range(21):
            proc = start_agent_process(config, total, rate=400)
            time.sleep(rng.uniform(0.3, 1.2))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            promised |= saved_ids(proc)
        proc = start_agent_process(config, total)  # a last, undisturbed run drains the rest
        try:
            store_db = tmp_path / "agent" / "agent.db"
            # The outbox can be empty for a moment between two adds: wait for the producer too.
            wait_until(lambda: "produced\n" in proc.lines and agent_outbox_empty(store_db),  # type: ignore[attr-defined]
                       timeout=120, message="all produced and the outbox drained")
        finally:
            proc.kill()
            proc.wait()
        promised |= saved_ids(proc)
        stored = stored_ids(tmp_path / "agent" / "agent.db")
        assert promised <= stored  # every add that returned survived the kills
        assert len(stored) == total  # and the producer never produced twice
        assert_exactly_once_in_order(platform, stored)
    finally:
        platform.stop()


def test_frozen_broker_backlog_drains_without_restart(tmp_path: Path, broker: Broker) -> None:
    platform = start_platform(broker, tmp_path)
    agent = Agent(load_config(agent_config(tmp_path, broker.port, keepalive_s=5), {}))
    agent.start()
    try:
        wait_until(agent.uplink.connected.is_set, message="agent connected")
        broker.freeze()
        ids = produce(agent, 300, rate=1000)
        # the agent notices the dead link (its keep-alive, 5 s, goes unanswered)
        wait_until(lambda: not agent.uplink.connected.is_set(), timeout=30, message="the frozen link noticed")
        broker.thaw()
        wait_until(lambda: outbox_empty(agent), timeout=60, message="backlog drained after thaw")
        assert_exactly_once_in_order(platform, set(ids))
        assert agent.supervisor.restarts["uplink"] == 0  # the component itself never restarted
    finally:
        agent.stop()
        platform.stop()


def test_media_survives_broker_restart_mid_transfer(tmp_path: Path, broker: Broker) -> None:
    platform = start_platform(broker, tmp_path)
    agent = Agent(load_config(agent_config(tmp_path, broker.port), {}))
    content = random.Random(1).randbytes(6 * 1024 * 1024)
    ref = agent.store.add_media("0192f6c8-7c1e-7a3b-9d2e-5b1f3c2a9e01", content, "video/x-msvideo",
                                record_id=None, role="clip", created_at=agent.now().isoformat(), suffix=".avi")
    agent.start()
    try:
        wait_until(lambda: agent.store.media_chunks_done(ref["id"]), timeout=30, message="first chunks on broker")
        broker.restart()
        wait_until(lambda: outbox_empty(agent), timeout=90, message="media acked")
        files = platform.media_files(AGENT)
        assert [f["id"] for f in files] == [ref["id"]]
        assert hashlib.sha256(Path(files[0]["path"]).read_bytes()).hexdigest() == ref["sha256"]
    finally:
        agent.stop()
        platform.stop()


def test_live_frames_reach_a_subscriber_and_are_never_stored(tmp_path: Path, broker: Broker) -> None:
    """QoS 0 frames on <root>/live/<camera> while connected; dropped and counted when not."""
    viewer = MqttTestClient(broker.port, "viewer")
    viewer.subscribe(f"scfs/v1/{AGENT}/live/#", qos=0)
    agent = Agent(load_config(agent_config(tmp_path, broker.port), {}))
    agent.start()
    try:
        wait_until(agent.uplink.connected.is_set, message="agent connected")
        frames = [b"\xff\xd8" + os.urandom(20_000) + bytes([n]) for n in range(5)]
        for frame in frames:
            assert agent.uplink.publish_live("live/cam1", frame)
            time.sleep(0.05)
        wait_until(lambda: len(viewer.received()) == 5, message="5 live frames")
        assert [m.payload for m in viewer.received()] == frames  # in order, byte for byte
        assert {(m.topic, m.qos, m.retain) for m in viewer.received()} == {(f"scfs/v1/{AGENT}/live/cam1", 0, 0)}
        assert agent.uplink.live_sent == 5 and only_records_queued(agent)  # live frames are not queued

        broker.stop()
        wait_until(lambda: not agent.uplink.connected.is_set(), message="agent saw the broker go")
        dropped = agent.uplink.live_dropped
        assert not agent.uplink.publish_live("live/cam1", frames[0])
        assert agent.uplink.live_dropped == dropped + 1 and only_records_queued(agent)
    finally:
        agent.stop()
        viewer.close()


def test_mutual_tls_connects_and_bad_ca_is_refused(tmp_path: Path, tls_broker: Broker) -> None:
    certs = tls_broker.certs
    client = certs.client(AGENT)
    good = agent_config(tmp_path, tls_broker.tls_port, tls={"ca_file": str(certs.ca),
                                                            "cert_file": str(client.cert),
                                                            "key_file": str(client.key)})
    agent = Agent(load_config(good, {}))
    agent.start()
    try:
        wait_until(agent.uplink.connected.is_set, message="mutual TLS connect")
    finally:
        agent.stop()
    other = make_test_certs(tmp_path / "other-ca", [AGENT])
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    bad = agent_config(bad_dir, tls_broker.tls_port, tls={"ca_file": str(other.ca),
                                                          "cert_file": str(client.cert),
                                                          "key_file": str(client.key)})
    agent = Agent(load_config(bad, {}))
    record = agent.recorder.record(FoodSample(meal="lunch", dish="d", grams=130, min_grams=125,
                                              sampled_at=agent.now(), kept_until=agent.now()))
    agent.start()
    try:
        wait_until(lambda: agent.uplink.connect_failures >= 1, message="the broker's certificate refused")
        assert not agent.uplink.connected.is_set()
        assert agent.store.in_outbox(record.id)  # kept until a verified broker takes it
    finally:
        agent.stop()


def test_tls_server_name_verifies_a_broker_reached_by_address(tmp_path: Path) -> None:
    """The certificate names broker.canteen.test; the box reaches it at 127.0.0.1."""
    with Broker(tmp_path / "named-broker", tls=True, clients=(AGENT,),
                server_names=("broker.canteen.test",)) as named:
        client = named.certs.client(AGENT)
        tls = {"ca_file": str(named.certs.ca), "cert_file": str(client.cert), "key_file": str(client.key)}
        by_address = tmp_path / "by-address"
        by_address.mkdir()
        agent = Agent(load_config(agent_config(by_address, named.tls_port, tls=tls), {}))
        agent.start()
        try:
            wait_until(lambda: agent.uplink.connect_failures >= 1, message="the certificate's name refused")
            assert not agent.uplink.connected.is_set()  # 127.0.0.1 is not in the certificate
        finally:
            agent.stop()
        by_name = tmp_path / "by-name"
        by_name.mkdir()
        config = load_config(agent_config(by_name, named.tls_port,
                                          tls={**tls, "server_name": "broker.canteen.test"}), {})
        agent = Agent(config)
        agent.start()
        try:
            wait_until(agent.uplink.connected.is_set, message="TLS connect verified against server_name")
        finally:
            agent.stop()
        rows = {check.name: check for check in check_broker(config, timeout_s=5)}
        assert rows["broker tls"].ok and rows["broker mqtt"].ok, rows


def test_plaintext_to_remote_broker_is_refused(tmp_path: Path) -> None:
    agent = Agent(load_config(agent_config(tmp_path, 1883, host="192.0.2.10"), {}))
    agent.start()
    try:
        wait_until(lambda: agent.uplink.config_refusals >= 1, message="plaintext off loopback refused")
        assert not agent.uplink.connected.is_set()
        assert agent.uplink.connects == 0
    finally:
        agent.stop()


def test_set_config_applied_and_survives_restart(tmp_path: Path, broker: Broker) -> None:
    platform = start_platform(broker, tmp_path)
    config = agent_config(tmp_path, broker.port)
    proc = start_cli_agent(config)
    try:
        wait_until(lambda: (platform.status(AGENT) or {}).get("online"), timeout=30, message="agent online")
        answer = platform.send_command(AGENT, "set_config", {"config": {"rules": {"food_sample": {"min_grams": 150}}}},
                                       timeout=30)
        assert answer["ok"], answer
        new_digest = hashlib.sha256(config.read_bytes()).hexdigest()
        wait_until(lambda: _status_with(platform, new_digest), timeout=30, message="online again with the new config")
    finally:
        proc.terminate()
        proc.wait(20)
    assert load_config(config, {}).rules.food_sample.min_grams == 150
    proc = start_cli_agent(config)
    try:
        answer = platform.send_command(AGENT, "get_status", timeout=30)
        assert answer["ok"] and answer["result"]["config_sha256"] == new_digest
        bad = platform.send_command(AGENT, "set_config", {"config": {"broker": {"port": "x"}}}, timeout=30)
        assert not bad["ok"] and "broker.port" in bad["error"]
        assert hashlib.sha256(config.read_bytes()).hexdigest() == new_digest
    finally:
        proc.terminate()
        proc.wait(20)
        platform.stop()


def _status_with(platform: Platform, digest: str) -> dict | None:
    status = platform.status(AGENT)
    return status if status and status.get("online") and status.get("config_sha256") == digest else None


# --- agent subprocesses ---------------------------------------------------------------


def start_agent_process(config: Path, total: int, rate: float = 0) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "tests.helpers.agent_producer", str(config), str(total), str(rate)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO)
    proc.lines = []  # type: ignore[attr-defined]
    reader = threading.Thread(target=lambda: proc.lines.extend(proc.stdout), daemon=True)  # type: ignore[attr-defined]
    reader.start()
    proc.reader = reader  # type: ignore[attr-defined]
    wait_until(lambda: any(line.startswith("ready") for line in proc.lines), timeout=60,  # type: ignore[attr-defined]
               message="agent process ready")
    return proc


def saved_ids(proc: subprocess.Popen) -> set[str]:
    proc.reader.join(5)  # type: ignore[attr-defined]
    return {line.split()[1] for line in proc.lines if line.startswith("saved ") and len(line.split()) == 3}  # type: ignore[attr-defined]


def stored_ids(db: Path) -> set[str]:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return {r[0] for r in conn.execute("SELECT id, type FROM records") if r[1] in PRODUCED_TYPES}
    finally:
        conn.close()


def agent_outbox_empty(db: Path) -> bool:
    import sqlite3

    conn = sqlite3.connect(db, timeout=5)
    try:
        return conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    finally:
        conn.close()


def start_cli_agent(config: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    return proc

