"""The test broker itself: start, restart with persistence, kill, freeze, TLS, passwords, ACL."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from simulator.platform.broker import Broker, free_port, mosquitto_binary, port_accepts
from simulator.platform.certs import make_test_certs
from tests.fixtures_mqtt import (  # noqa: F401 - the *_fixture imports register fixtures
    EXAMPLE_ACL,
    REPO,
    MqttTestClient,
    broker_factory_fixture,
    broker_fixture,
    tls_broker_fixture,
    wait_until,
)


def test_broker_serves_publish_subscribe(broker: Broker) -> None:
    sub = MqttTestClient(broker.port, "sub")
    pub = MqttTestClient(broker.port, "pub")
    try:
        assert not sub.subscribe("t/#")[0].is_failure
        assert not pub.publish("t/x", b"hello").is_failure
        msgs = wait_until(lambda: sub.received("t/x"), message="the message")
        assert msgs[0].payload == b"hello"
    finally:
        sub.close()
        pub.close()


def test_restart_keeps_port_session_and_queued_qos1(broker: Broker) -> None:
    port = broker.port
    # clean_start=False even the first time: Mosquitto 2.0 does not persist a session whose
    # connection had clean start set, whatever its expiry interval (it keeps it in memory only)
    sub = MqttTestClient(port, "persistent-sub", clean_start=False, session_expiry_s=3600)
    sub.subscribe("q/#", qos=1)
    sub.close()  # offline: the broker queues for its session
    pub = MqttTestClient(port, "pub")
    for n in range(5):
        pub.publish(f"q/{n}", str(n).encode(), qos=1)
    pub.close()

    broker.restart()  # SIGTERM saves the persistence file
    assert broker.port == port and port_accepts(port)

    sub = MqttTestClient(port, "persistent-sub", clean_start=False, session_expiry_s=3600)
    try:
        got = wait_until(lambda: len(sub.received()) >= 5 and sub.received(), message="queued messages")
        assert sorted(m.payload for m in got) == [b"0", b"1", b"2", b"3", b"4"]
    finally:
        sub.close()


def test_kill_then_restart_on_same_port(broker: Broker) -> None:
    port, pid = broker.port, broker.process.pid
    broker.kill()
    assert not broker.running and not port_accepts(port)
    broker.start()
    assert broker.port == port and broker.process.pid != pid
    client = MqttTestClient(port, "after-kill")
    client.close()


def test_hard_restart_loses_nothing_already_autosaved(broker_factory) -> None:
    b = broker_factory(autosave_interval_s=1)
    sub = MqttTestClient(b.port, "s", clean_start=False, session_expiry_s=3600)
    sub.subscribe("k/#")
    sub.close()
    pub = MqttTestClient(b.port, "p")
    pub.publish("k/1", b"kept")
    pub.close()
    # the queued message is in the persistence file once an autosave has happened
    db = b.data_dir / "mosquitto.db"
    wait_until(lambda: db.exists() and b"kept" in db.read_bytes(), message="an autosave")
    b.restart(hard=True)
    sub = MqttTestClient(b.port, "s", clean_start=False, session_expiry_s=3600)
    try:
        assert wait_until(lambda: sub.received("k/1"), message="message kept across SIGKILL")
    finally:
        sub.close()


def test_freeze_hangs_clients_and_thaw_releases_them(broker: Broker) -> None:
    broker.freeze()
    client = MqttTestClient(broker.port, "frozen", connect=False)
    try:
        client.client.connect_async("127.0.0.1", broker.port, 30)
        client.client.loop_start()
        assert not client.connected.wait(0.5), "a frozen broker must not answer CONNECT"
        broker.thaw()
        assert client.connected.wait(10), "CONNACK after thaw"
    finally:
        client.close()


def test_mutual_tls_accepts_a_client_certificate_and_refuses_none(tls_broker: Broker) -> None:
    certs = tls_broker.certs
    agent = MqttTestClient(tls_broker.tls_port, "a1", tls=(certs.ca, certs.client("a1")))
    try:
        assert not agent.publish("scfs/v1/a1/status", b"{}").is_failure
    finally:
        agent.close()
    # the certificate's CN became the user name (use_identity_as_username)
    assert tls_broker.wait_for_log("u'a1'")
    with pytest.raises((ConnectionError, OSError)):
        MqttTestClient(tls_broker.tls_port, "nocert", tls=(certs.ca, None), timeout=3)
    # a certificate from another CA is refused as well
    other = make_test_certs(tls_broker.workdir / "other-ca", ("a1",))
    with pytest.raises((ConnectionError, OSError)):
        MqttTestClient(tls_broker.tls_port, "a1", tls=(certs.ca, other.client("a1")), timeout=3)


def test_password_file_refuses_a_wrong_password(broker_factory) -> None:
    b = broker_factory(users={"a1": "right"})
    MqttTestClient(b.port, "a1", username="a1", password="right").close()
    with pytest.raises(ConnectionError):
        MqttTestClient(b.port, "a1", username="a1", password="wrong", timeout=3)
    with pytest.raises(ConnectionError):
        MqttTestClient(b.port, "anon", timeout=3)


def test_missing_acl_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="ACL file not found"):
        Broker(tmp_path, acl=tmp_path / "nope")


def test_example_acl_confines_each_agent_to_its_subtree(broker_factory) -> None:
    b = broker_factory(tls=True, plain=False, acl=EXAMPLE_ACL, clients=("a1", "a2", "platform"))
    c = b.certs
    watcher = MqttTestClient(b.tls_port, "platform", tls=(c.ca, c.client("platform")))
    a1 = MqttTestClient(b.tls_port, "a1", tls=(c.ca, c.client("a1")))
    a2 = MqttTestClient(b.tls_port, "a2", tls=(c.ca, c.client("a2")))
    try:
        watcher.subscribe("scfs/v1/+/rec/#")
        a2.subscribe("scfs/v1/a2/ack")
        a1.subscribe("scfs/v1/a2/ack")  # reading another agent's acks: not allowed either

        denied = a1.publish("scfs/v1/a2/rec/food_sample", b'{"forged": true}')
        assert denied.is_failure and "authori" in str(denied).lower()  # MQTT 5 PUBACK 0x87
        assert b.wait_for_log("Denied PUBLISH from a1")
        assert re.search(r"Denied PUBLISH from a1 .*'scfs/v1/a2/rec/food_sample'", b.log_text())
        # an agent cannot forge its own acks or commands
        assert a1.publish("scfs/v1/a1/ack", b'{"ids": []}').is_failure
        assert a1.publish("scfs/v1/a1/cmd", b"{}").is_failure

        assert not a1.publish("scfs/v1/a1/rec/food_sample", b'{"own": true}').is_failure
        wait_until(lambda: watcher.received("scfs/v1/a1/rec/food_sample"), message="a1's own record")
        assert watcher.received("scfs/v1/a2/rec/food_sample") == []

        assert not watcher.publish("scfs/v1/a2/ack", json.dumps({"ids": ["x"]})).is_failure
        wait_until(lambda: a2.received("scfs/v1/a2/ack"), message="a2's ack")
        assert a1.received("scfs/v1/a2/ack") == []
    finally:
        for client in (watcher, a1, a2):
            client.close()


def test_shipped_mosquitto_conf_runs_with_mutual_tls(tmp_path: Path) -> None:
    """config/mosquitto/mosquitto.conf, with paths and port made local, starts and works."""
    certs = make_test_certs(tmp_path / "certs", ("a1", "platform"))
    port = free_port()
    text = (REPO / "config/mosquitto/mosquitto.conf").read_text()
    for old, new in {"/etc/mosquitto/certs/ca.crt": certs.ca, "/etc/mosquitto/certs/server.crt": certs.server.cert,
                     "/etc/mosquitto/certs/server.key": certs.server.key, "/etc/mosquitto/canteen.acl": EXAMPLE_ACL,
                     "/var/lib/mosquitto/": f"{tmp_path}/", "log_dest syslog": f"log_dest file {tmp_path}/log",
                     "listener 8883": f"listener {port} 127.0.0.1"}.items():
        assert old in text, old
        text = text.replace(old, str(new))
    conf = tmp_path / "shipped.conf"
    conf.write_text(text + ("user root\n" if os.geteuid() == 0 else ""))
    proc = subprocess.Popen([mosquitto_binary(), "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: port_accepts(port) or proc.poll() is not None, message="shipped broker")
        assert proc.poll() is None, proc.stdout.read().decode()
        a1 = MqttTestClient(port, "a1", tls=(certs.ca, certs.client("a1")))
        try:
            assert not a1.publish("scfs/v1/a1/alarm", b"{}").is_failure
            assert a1.publish("scfs/v1/a2/alarm", b"{}").is_failure
        finally:
            a1.close()
        with pytest.raises((ConnectionError, OSError)):
            MqttTestClient(port, "anon", tls=(certs.ca, None), timeout=3)
    finally:
        proc.terminate()
        proc.wait(10)
