"""No client takes over another's session: every shipped broker config ties the client
id to the client's identity (``use_username_as_clientid``: the user name, or the
certificate's CN with mutual TLS), so ``a1`` asking for client id ``a2`` gets ``a1``.

Before, user a1 connecting as client id a2 disconnected the real a2 (and its queued
commands went to the impostor's session).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from agent.app import Agent
from agent.config_file.loader import load_config
from simulator.platform.broker import free_port, mosquitto_binary, password_hash, port_accepts
from simulator.platform.certs import TestCerts, make_test_certs
from tests.fixtures_mqtt import (  # noqa: F401
    EXAMPLE_ACL,
    REPO,
    MqttTestClient,
    broker_factory_fixture,
    wait_until,
)

PASSWORDS = {"a1": "pw-a1", "a2": "pw-a2", "platform": "pw-platform"}


def _assert_takeover_refused(port: int, victim: dict, impostor: dict) -> None:
    """``victim`` stays connected and keeps receiving while ``impostor`` uses its client id."""
    a2 = MqttTestClient(port, "a2", **victim)
    try:
        a2.subscribe("scfs/v1/a2/cmd")
        impostor_client = MqttTestClient(port, "a2", **impostor)  # a1's identity, a2's client id
        try:
            time.sleep(0.5)
            assert a2.connected.is_set() and a2.connects == 1, "the real a2 was disconnected"
            assert a2.disconnect_reason is None
        finally:
            impostor_client.close()
    finally:
        a2.close()


def _shipped_broker(tmp_path: Path, name: str, certs: TestCerts) -> Iterator[int]:
    port = free_port()
    text = (REPO / "config/mosquitto" / name).read_text()
    passwd = tmp_path / "passwd"
    passwd.write_text("".join(f"{u}:{password_hash(p)}\n" for u, p in PASSWORDS.items()))
    for old, new in {"/etc/mosquitto/certs/ca.crt": certs.ca, "/etc/mosquitto/certs/server.crt": certs.server.cert,
                     "/etc/mosquitto/certs/server.key": certs.server.key, "/etc/mosquitto/canteen.acl": EXAMPLE_ACL,
                     "/etc/mosquitto/canteen.passwd": passwd,
                     "/var/lib/mosquitto/": f"{tmp_path}/", "log_dest syslog": f"log_dest file {tmp_path}/log",
                     "listener 8883": f"listener {port} 127.0.0.1"}.items():
        text = text.replace(old, str(new))
    assert "use_username_as_clientid true" in text
    conf = tmp_path / name
    conf.write_text(text + ("user root\n" if os.geteuid() == 0 else ""))
    proc = subprocess.Popen([mosquitto_binary(), "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: port_accepts(port) or proc.poll() is not None, message="shipped broker")
        assert proc.poll() is None, proc.stdout.read().decode()
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def test_shipped_mutual_tls_config_refuses_a_takeover(tmp_path: Path) -> None:
    certs = make_test_certs(tmp_path / "certs", ("a1", "a2", "platform"))
    for port in _shipped_broker(tmp_path, "mosquitto.conf", certs):
        _assert_takeover_refused(port, {"tls": (certs.ca, certs.client("a2"))},
                                 {"tls": (certs.ca, certs.client("a1"))})


def test_shipped_password_config_refuses_a_takeover(tmp_path: Path) -> None:
    certs = make_test_certs(tmp_path / "certs", ())
    for port in _shipped_broker(tmp_path, "mosquitto-password.conf", certs):
        _assert_takeover_refused(
            port, {"tls": (certs.ca, None), "username": "a2", "password": PASSWORDS["a2"]},
            {"tls": (certs.ca, None), "username": "a1", "password": PASSWORDS["a1"]})


@pytest.mark.parametrize("tls", [False, True], ids=["passwords", "mutual-tls"])
def test_test_brokers_refuse_a_takeover(broker_factory, tls: bool) -> None:
    if tls:
        b = broker_factory(tls=True, plain=False, acl=EXAMPLE_ACL)
        c = b.certs
        _assert_takeover_refused(b.tls_port, {"tls": (c.ca, c.client("a2"))}, {"tls": (c.ca, c.client("a1"))})
    else:
        b = broker_factory(users=PASSWORDS, acl=EXAMPLE_ACL)
        _assert_takeover_refused(b.port, {"username": "a2", "password": PASSWORDS["a2"]},
                                 {"username": "a1", "password": PASSWORDS["a1"]})


def test_the_agent_keeps_its_session_and_its_commands(tmp_path: Path, broker_factory) -> None:
    """The real agent a2 (client id = its user name) is not thrown off by a1 asking for
    client id a2 (with a persistent session), and its commands still reach it."""
    b = broker_factory(users=PASSWORDS, acl=EXAMPLE_ACL)
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "identity": {"agent_id": "a2", "school_id": "5101040042", "canteen_id": "k1"},
        "broker": {"host": "127.0.0.1", "port": b.port, "username": "a2", "password": PASSWORDS["a2"],
                   "keepalive_s": 5, "reconnect_min_s": 0.2, "reconnect_max_s": 1},
        "store": {"path": str(tmp_path / "agent.db"), "media_dir": str(tmp_path / "media")},
        "vision": {"enabled": False}, "console": {"enabled": False},
    }))
    platform = MqttTestClient(b.port, "platform", username="platform", password=PASSWORDS["platform"])
    platform.subscribe("scfs/v1/a2/cmd/res")
    agent = Agent(load_config(path, {}), config_path=path)
    agent.start()
    try:
        wait_until(agent.uplink.connected.is_set, message="agent a2 connected")
        impostor = MqttTestClient(b.port, "a2", username="a1", password=PASSWORDS["a1"],
                                  clean_start=False, session_expiry_s=3600)
        try:
            ping = {"id": "c-1", "name": "ping", "args": {}, "issued_at": agent.now().isoformat(),
                    "expires_at": (agent.now() + timedelta(minutes=1)).isoformat()}
            platform.publish("scfs/v1/a2/cmd", json.dumps(ping))
            answer = wait_until(lambda: platform.received("scfs/v1/a2/cmd/res"), message="a2 answers its command")
            assert json.loads(answer[0].payload)["ok"] is True
            assert agent.uplink.connects == 1, "the agent was thrown off its session"
        finally:
            impostor.close()
    finally:
        agent.stop()
        platform.close()
