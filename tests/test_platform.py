"""The reference platform against a real broker: store once, ack after commit, refuse bad
input without acking it, reassemble media, split load in a share group, signed commands.

"Not acked" is shown without sleeping: acks leave in commit order, so once the ack of a
valid item sent AFTER the bad one has arrived, an ack for the bad one would have too.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.core.recorder import ClockMonitor, Recorder
from agent.records.envelope import Source
from agent.records.food_sample import FoodSample
from agent.records.staff_health_check import StaffHealthCheck
from agent.store import Store
from agent.uplink.commands import CommandProcessor
from simulator.platform.broker import Broker
from simulator.platform.commands import build_command, canonical_json, public_key_b64, verify
from simulator.platform.platform import Platform, PlatformTls
from tests.conftest import TZ, make_config
from tests.fixtures_mqtt import (  # noqa: F401 - the *_fixture imports register fixtures
    EXAMPLE_ACL,
    MqttTestClient,
    broker_factory_fixture,
    broker_fixture,
    platform_fixture,
    wait_until,
)

NOW = datetime(2026, 11, 30, 11, 30, tzinfo=TZ)


class AgentSide:
    """Records made by the real Recorder and Store, published by hand as an agent would."""

    def __init__(self, tmp_path: Path, agent_id: str = "a1") -> None:
        config = make_config(tmp_path / agent_id, identity={"agent_id": agent_id, "school_id": "5101040042",
                                                            "canteen_id": "k1"})
        self.agent_id = agent_id
        self.store = Store(config.store.path, config.store.media_dir)
        self.recorder = Recorder(config, self.store, lambda: NOW, clock=ClockMonitor(lambda: (True, "ntp")))
        self.n = 0

    def food_sample(self) -> tuple[str, bytes]:
        self.n += 1
        saved = self.recorder.record(
            FoodSample(meal="lunch", dish=f"dish {self.n}", grams=130, min_grams=125, sampled_at=NOW,
                       kept_until=NOW + timedelta(hours=48)),
            source=Source(device_id="scale-1", kind="scale"))
        return saved.id, saved.payload.encode()

    def health_check(self) -> tuple[str, bytes]:
        saved = self.recorder.record(StaffHealthCheck(staff_id="S1", temperature_c=36.5,
                                                      normal_range_c=(35.9, 37.3)))
        return saved.id, saved.payload.encode()

    def alarm(self) -> tuple[str, bytes]:
        saved = self.recorder.raise_alarm("device_offline", {"device_id": "fridge-2"}, "no data for 5 min")
        return saved.id, saved.payload.encode()

    def topic(self, suffix: str) -> str:
        return f"scfs/v1/{self.agent_id}/{suffix}"

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentSide]:
    side = AgentSide(tmp_path)
    yield side
    side.close()


@pytest.fixture
def a1(broker: Broker) -> Iterator[MqttTestClient]:
    """The agent's MQTT connection: it listens to its acks and commands."""
    client = MqttTestClient(broker.port, "a1")
    client.subscribe("scfs/v1/a1/ack")
    yield client
    client.close()


def test_valid_record_is_stored_once_and_acked_each_time(platform: Platform, agent: AgentSide,
                                                          a1: MqttTestClient) -> None:
    record_id, payload = agent.food_sample()
    a1.publish(agent.topic("rec/food_sample"), payload)
    wait_until(lambda: a1.acked_ids("a1") == [record_id], message="first ack")
    a1.publish(agent.topic("rec/food_sample"), payload)  # a redelivery: the agent missed the ack
    wait_until(lambda: a1.acked_ids("a1") == [record_id, record_id], message="second ack")

    stored = platform.records(agent_id="a1", type="food_sample")
    assert [r["id"] for r in stored] == [record_id]
    assert stored[0] == json.loads(payload)
    assert platform.duplicates == 1 and platform.invalid == 0
    assert platform.count_by_type("a1") == {"food_sample": 1}


def test_alarm_and_health_check_are_stored_by_type(platform: Platform, agent: AgentSide,
                                                   a1: MqttTestClient) -> None:
    alarm_id, alarm = agent.alarm()
    check_id, check = agent.health_check()
    a1.publish(agent.topic("alarm"), alarm)
    a1.publish(agent.topic("rec/staff_health_check"), check)
    wait_until(lambda: set(a1.acked_ids("a1")) == {alarm_id, check_id}, message="both acked")
    assert platform.count_by_type() == {"alarm": 1, "staff_health_check": 1}
    assert platform.records(type="alarm")[0]["data"]["kind"] == "device_offline"
    assert platform.live_counts[("a1", "alarm")] == 1


@pytest.mark.parametrize(("topic", "mutate", "reason"), [
    ("rec/food_sample", lambda e: e["data"].update(grams="lots"), "schema: data/grams"),
    ("rec/food_sample", lambda e: e.pop("clock"), "'clock' is a required property"),
    ("rec/food_sample", lambda e: e["data"].update(colour="red"), "schema: data"),
    ("rec/food_sample", lambda e: e.update(agent_id="a2"), "envelope agent_id 'a2'"),
    ("rec/staff_health_check", lambda e: None, "envelope type 'food_sample'"),
    ("rec/no_such_type", lambda e: e.update(type="no_such_type"), "unknown record type"),
    ("alarm", lambda e: None, "envelope type 'food_sample' on a 'alarm' topic"),
])
def test_invalid_record_is_counted_and_not_acked(platform: Platform, agent: AgentSide, a1: MqttTestClient,
                                                 topic: str, mutate, reason: str) -> None:
    bad_id, payload = agent.food_sample()
    envelope = json.loads(payload)
    mutate(envelope)
    a1.publish(agent.topic(topic), json.dumps(envelope))
    good_id, good = agent.food_sample()
    a1.publish(agent.topic("rec/food_sample"), good)
    wait_until(lambda: good_id in a1.acked_ids("a1"), message="the valid record's ack")
    assert bad_id not in a1.acked_ids("a1")
    assert platform.invalid == 1
    assert reason in platform.rejections[0].reason, platform.rejections[0].reason
    assert [r["id"] for r in platform.records()] == [good_id]


def test_garbage_payload_is_rejected(platform: Platform, agent: AgentSide, a1: MqttTestClient) -> None:
    a1.publish(agent.topic("rec/food_sample"), b"\xff not json")
    good_id, good = agent.food_sample()
    a1.publish(agent.topic("rec/food_sample"), good)
    wait_until(lambda: good_id in a1.acked_ids("a1"), message="ack")
    assert platform.invalid == 1 and platform.rejections[0].reason == "not a JSON object"


def publish_media(client: MqttTestClient, agent_id: str, media_id: str, content: bytes, *,
                  chunk_size: int = 64 * 1024, corrupt_chunk: int | None = None,
                  record_id: str | None = None) -> None:
    """Chunks out of order and the manifest last: the platform must not depend on order."""
    chunks = [content[i:i + chunk_size] for i in range(0, len(content), chunk_size)] or [b""]
    manifest = {"id": media_id, "content_type": "image/jpeg", "bytes": len(content),
                "sha256": hashlib.sha256(content).hexdigest(), "chunk_size": chunk_size,
                "chunk_count": len(chunks), "record_id": record_id, "role": "snapshot",
                "created_at": NOW.isoformat()}
    for n in reversed(range(len(chunks))):
        data = chunks[n]
        if n == corrupt_chunk:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        client.publish(f"scfs/v1/{agent_id}/media/{media_id}/{n}", data)
    client.publish(f"scfs/v1/{agent_id}/media/{media_id}/meta", json.dumps(manifest))


def test_media_in_chunks_is_reassembled_verified_and_acked(platform: Platform, agent: AgentSide,
                                                           a1: MqttTestClient) -> None:
    content = bytes(range(256)) * 700  # 179200 bytes: 3 chunks of 64 KiB
    record_id, _ = agent.food_sample()
    publish_media(a1, "a1", "m-1", content, record_id=record_id)
    wait_until(lambda: "m-1" in a1.acked_ids("a1"), message="media ack")
    [media] = platform.media_files("a1")
    assert media["bytes"] == len(content) and media["record_id"] == record_id
    assert Path(media["path"]).read_bytes() == content and media["path"].endswith(".jpg")
    # sent again (the agent never saw the ack): acked again, stored once
    publish_media(a1, "a1", "m-1", content, record_id=record_id)
    wait_until(lambda: a1.acked_ids("a1").count("m-1") == 2, message="second media ack")
    assert len(platform.media_files()) == 1 and platform.duplicates == 1


def test_corrupted_media_is_not_acked_and_a_clean_resend_is(platform: Platform, a1: MqttTestClient) -> None:
    content = b"\x89JPEG" * 40000
    publish_media(a1, "a1", "m-bad", content, corrupt_chunk=1)
    publish_media(a1, "a1", "m-ok", b"small picture")  # sentinel, sent after the corrupt one
    wait_until(lambda: "m-ok" in a1.acked_ids("a1"), message="sentinel ack")
    assert "m-bad" not in a1.acked_ids("a1")
    assert platform.invalid == 1 and "sha256 mismatch" in platform.rejections[0].reason
    assert [m["id"] for m in platform.media_files()] == ["m-ok"]
    publish_media(a1, "a1", "m-bad", content)  # the agent's full resend after the ack timeout
    wait_until(lambda: "m-bad" in a1.acked_ids("a1"), message="ack after a clean resend")
    assert Path(next(m for m in platform.media_files() if m["id"] == "m-bad")["path"]).read_bytes() == content


def test_bad_manifest_is_rejected(platform: Platform, a1: MqttTestClient) -> None:
    a1.publish("scfs/v1/a1/media/m-2/meta", json.dumps({"content_type": "image/jpeg", "bytes": 10,
                                                        "sha256": "0" * 64, "chunk_size": 4, "chunk_count": 2}))
    publish_media(a1, "a1", "m-ok", b"x")
    wait_until(lambda: "m-ok" in a1.acked_ids("a1"), message="sentinel ack")
    assert "chunk_count 2 does not fit" in platform.rejections[0].reason


def test_telemetry_batches_are_stored_and_acked_by_id(platform: Platform, a1: MqttTestClient) -> None:
    batch = {"id": "t-1", "device_id": "fridge-2", "kind": "temp_humidity",
             "samples": [{"t": NOW.isoformat(), "temperature_c": 4.2, "humidity_pct": 71.0}]}
    a1.publish("scfs/v1/a1/tele/fridge-2", batch)
    wait_until(lambda: a1.acked_ids("a1") == ["t-1"], message="telemetry ack")
    a1.publish("scfs/v1/a1/tele/fridge-2", batch)  # (ids repeated within one ack window are merged)
    a1.publish("scfs/v1/a1/tele/fridge-2", {k: v for k, v in batch.items() if k != "id"})  # plain v1
    a1.publish("scfs/v1/a1/tele/fridge-3", {**batch, "id": "t-wrong-device"})
    wait_until(lambda: a1.acked_ids("a1").count("t-1") == 2, message="telemetry acked again")
    wait_until(lambda: len(platform.telemetry("a1")) == 2, message="both batches stored")
    assert platform.invalid == 1 and "device_id" in platform.rejections[0].reason
    assert "t-wrong-device" not in a1.acked_ids("a1")


def test_retained_status_reaches_a_platform_started_later(broker: Broker, tmp_path: Path) -> None:
    a1 = MqttTestClient(broker.port, "a1")
    a1.publish("scfs/v1/a1/status", {"online": True, "version": "0.1.0"}, retain=True)
    with Platform("127.0.0.1", broker.port, tmp_path / "p.db") as platform:
        wait_until(lambda: platform.status("a1"), message="retained status")
        a1.publish("scfs/v1/a1/status", {"online": False}, retain=True)
        wait_until(lambda: platform.status("a1") == {"online": False}, message="status update")
    a1.close()


def test_a_durable_platform_gets_what_arrived_while_the_broker_restarted_before_it_subscribed_again(
        broker: Broker, agent: AgentSide, tmp_path: Path) -> None:
    # Mosquitto 2.0.11 keeps neither shared subscriptions nor a session begun with clean
    # start across its restart; a durable platform has neither. Its network loop is held
    # over the restart, so the record is on the broker before the platform is back.
    platform = Platform("127.0.0.1", broker.port, tmp_path / "p.db", client_id="platform-1", durable=True).start()
    try:
        platform.client.loop_stop()
        broker.restart()
        a1 = MqttTestClient(broker.port, "a1")
        record_id, payload = agent.food_sample()
        assert not a1.publish(agent.topic("rec/food_sample"), payload).is_failure  # the broker has it
        a1.close()
        platform.client.loop_start()
        wait_until(lambda: platform.store.query("SELECT id FROM records WHERE id=?", (record_id,)),
                   message="the record stored after the platform's reconnect")
    finally:
        platform.stop()


def test_two_instances_in_a_share_group_split_the_load_and_store_everything_once(
        broker: Broker, agent: AgentSide, a1: MqttTestClient, tmp_path: Path) -> None:
    db = tmp_path / "group.db"
    p1 = Platform("127.0.0.1", broker.port, db, group="g").start()
    p2 = Platform("127.0.0.1", broker.port, db, group="g").start()
    try:
        made = [agent.food_sample() for _ in range(120)]
        for _record_id, payload in made:
            a1.publish(agent.topic("rec/food_sample"), payload)
        for _record_id, payload in made[:30]:  # redeliveries
            a1.publish(agent.topic("rec/food_sample"), payload)
        ids = {record_id for record_id, _ in made}
        wait_until(lambda: ids <= set(a1.acked_ids("a1")), message="every record acked")
        # the counters move after each commit, a moment after "received": wait for the outcomes
        wait_until(lambda: p1.stored + p2.stored + p1.duplicates + p2.duplicates == 150,
                   message="all messages handled")
        assert p1.received + p2.received == 150
        assert p1.received > 0 and p2.received > 0, (p1.received, p2.received)  # the load was split
        assert p1.stored + p2.stored == 120
        assert p1.duplicates + p2.duplicates == 30
        assert sorted(r["id"] for r in p1.records()) == sorted(ids)
    finally:
        p1.stop()
        p2.stop()


class FakeAgentCommands:
    """Answers commands with the agent's own CommandProcessor (its signature check)."""

    def __init__(self, broker: Broker, tmp_path: Path, public_key: str) -> None:
        self.store = Store(tmp_path / "cmd-agent.db")
        self.processor = CommandProcessor(self.store, {"ping": lambda args: {"pong": True, **args}},
                                          lambda: datetime.now(TZ), public_key, agent_id="a1")
        self.client = MqttTestClient(broker.port, "a1")
        self.client.client.on_message = self._on_message
        self.client.subscribe("scfs/v1/a1/cmd")

    def _on_message(self, client, userdata, message) -> None:
        self.client.messages.append(message)
        answer = self.processor.process(message.payload)
        client.publish("scfs/v1/a1/cmd/res", json.dumps(answer), qos=1)

    def close(self) -> None:
        self.client.close()
        self.store.close()


def test_signed_command_verifies_and_returns_the_agents_result(platform: Platform, broker: Broker,
                                                                tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    fake = FakeAgentCommands(broker, tmp_path, public_key_b64(key))
    try:
        result = platform.send_command("a1", "ping", {"n": 1}, sign_with=key, timeout=10)
        assert result["ok"] is True and result["result"] == {"pong": True, "n": 1}
        sent = json.loads(fake.client.received("scfs/v1/a1/cmd")[0].payload)
        assert verify(sent, key.public_key())
        key.public_key().verify(base64.b64decode(sent["sig"]), canonical_json(sent))  # raises if bad
        assert canonical_json(sent) == json.dumps({k: v for k, v in sent.items() if k != "sig"},
                                                  sort_keys=True, separators=(",", ":")).encode()

        tampered = build_command("ping", {"n": 2}, agent_id="a1", sign_with=key)
        tampered["args"] = {"n": 3}
        platform.publish_command("a1", tampered)
        refused = platform.wait_result(tampered["id"], timeout=10)
        assert refused["ok"] is False and refused["error"] == "bad signature"
        unsigned = platform.send_command("a1", "ping", timeout=10)
        assert unsigned["ok"] is False and "unsigned" in unsigned["error"]
        assert set(platform.command_results) == {result["id"], tampered["id"], unsigned["id"]}
    finally:
        fake.close()


def test_command_result_timeout_is_clear(platform: Platform) -> None:
    with pytest.raises(TimeoutError, match="no result for command"):
        platform.send_command("nobody", "ping", timeout=0.3)


def test_platform_over_mutual_tls_with_the_example_acl(broker_factory, agent: AgentSide, tmp_path: Path) -> None:
    b = broker_factory(tls=True, plain=False, acl=EXAMPLE_ACL, clients=("a1", "a2", "platform"))
    c = b.certs
    pair = c.client("platform")
    with Platform("127.0.0.1", b.tls_port, tmp_path / "tls.db", tls=PlatformTls(c.ca, pair.cert, pair.key)) as p:
        a1 = MqttTestClient(b.tls_port, "a1", tls=(c.ca, c.client("a1")))
        a2 = MqttTestClient(b.tls_port, "a2", tls=(c.ca, c.client("a2")))
        try:
            a1.subscribe("scfs/v1/a1/ack")
            record_id, payload = agent.food_sample()
            forged = json.loads(payload)
            forged["agent_id"] = "a2"
            assert a1.publish("scfs/v1/a2/rec/food_sample", json.dumps(forged)).is_failure
            assert not a1.publish("scfs/v1/a1/rec/food_sample", payload).is_failure
            wait_until(lambda: record_id in a1.acked_ids("a1"), message="ack through TLS and the ACL")
            assert b.wait_for_log("Denied PUBLISH from a1")
            assert p.records(agent_id="a2") == [] and p.received == 1
        finally:
            a1.close()
            a2.close()


def test_cli_runs_the_platform(broker: Broker, tmp_path: Path) -> None:
    import subprocess
    import sys

    db = tmp_path / "cli.db"
    proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "platform", "--port", str(broker.port),
                             "--db", str(db), "--print-every", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    try:
        lines = []
        while not any("platform listening" in line for line in lines):  # after the log lines
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        client = MqttTestClient(broker.port, "a9")
        client.subscribe("scfs/v1/a9/ack")
        client.publish("scfs/v1/a9/tele/f1", {"id": "t9", "device_id": "f1", "kind": "temp",
                                              "samples": [{"t": NOW.isoformat(), "temperature_c": 3.0}]})
        wait_until(lambda: "t9" in client.acked_ids("a9"), message="ack from the CLI platform")
        client.close()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "a9" in out and "telemetry" in out


def test_platform_resubscribes_after_a_broker_restart(platform: Platform, broker: Broker,
                                                      agent: AgentSide) -> None:
    broker.restart(hard=True)
    wait_until(platform.connected.is_set, message="platform reconnected")
    a1 = MqttTestClient(broker.port, "a1")
    try:
        a1.subscribe("scfs/v1/a1/ack")
        record_id, payload = agent.food_sample()
        # the platform may still be re-subscribing: publish until it acks (same id, stored once)
        def acked() -> bool:
            if record_id not in a1.acked_ids("a1"):
                a1.publish(agent.topic("rec/food_sample"), payload)
                return False
            return True
        wait_until(acked, interval=0.2, message="ack after the broker restart")
        assert [r["id"] for r in platform.records()] == [record_id]
    finally:
        a1.close()
