"""MQTT test infrastructure: a real Mosquitto per test, a reference platform, a small client.

Use from a test module by importing the fixture functions you need (pytest finds
fixtures in the module namespace; each is registered under its short ``name``, so the
imported ``*_fixture`` name does not clash with the test's parameter):

    from tests.fixtures_mqtt import MqttTestClient, broker_fixture, platform_fixture, wait_until  # noqa: F401

Mosquitto 2.0 quirk worth knowing: a session whose connection had clean start set is
kept in memory only; it is written to the persistence file (so survives a broker
restart) only after the client has connected with clean start 0.

Fixtures (function scope):
  broker          plain listener on a free loopback port, anonymous, persistence on
  tls_broker      plain + mutual-TLS listener; client certs for a1, a2 and platform in
                  ``tls_broker.certs`` (CN = name, used as the MQTT user name)
  broker_factory  ``broker_factory(**Broker kwargs)`` for other set-ups (ACL, users ...);
                  every broker made is stopped at teardown
  platform        a started ``simulator.platform.platform.Platform`` on ``broker`` (own SQLite);
                  import ``broker_fixture`` as well
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from simulator.platform.broker import Broker
from simulator.platform.certs import CertPair
from simulator.platform.platform import Platform

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_ACL = REPO / "config" / "mosquitto" / "acl"


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02,
               message: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy (returned); fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {message}")
        time.sleep(interval)


class MqttTestClient:
    """A paho MQTT 5 client for tests: connects on construction, records what it receives,
    and ``publish`` waits for the PUBACK and returns its reason code.

    paho reconnects by itself; the client then subscribes again to what it had
    subscribed (Mosquitto 2.0.11 drops an MQTT 5 client right after refusing one of its
    QoS 1 publishes with "not authorised", so ACL tests see such reconnects)."""

    def __init__(self, port: int, client_id: str, *, host: str = "127.0.0.1",
                 tls: tuple[Path, CertPair | None] | None = None, username: str | None = None,
                 password: str | None = None, clean_start: bool = True, session_expiry_s: int = 0,
                 connect: bool = True, timeout: float = 10.0) -> None:
        self.host, self.port, self.client_id = host, port, client_id
        self.messages: list[mqtt.MQTTMessage] = []
        self.puback: dict[int, Any] = {}
        self.suback: dict[int, list[Any]] = {}
        self.connack: Any = None
        self.connects = 0
        self.subscriptions: list[tuple[str, int]] = []
        self.connected = threading.Event()
        self._settled = threading.Event()  # connected, refused, or dropped before CONNACK
        self.disconnect_reason: Any = None
        self._cv = threading.Condition()
        self.clean_start, self.session_expiry_s = clean_start, session_expiry_s
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if username:
            self.client.username_pw_set(username, password)
        if tls:
            ca, pair = tls
            self.client.tls_set(ca_certs=str(ca), certfile=str(pair.cert) if pair else None,
                                keyfile=str(pair.key) if pair else None)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        if connect:
            self.connect(timeout)

    def connect(self, timeout: float = 10.0) -> None:
        """Connect and wait for a successful CONNACK (raises ConnectionError otherwise)."""
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry_s
        self.client.connect(self.host, self.port, 30, clean_start=self.clean_start, properties=props)
        self.client.loop_start()
        self._settled.wait(timeout)
        if not self.connected.is_set():
            self.close()
            raise ConnectionError(f"{self.client_id}: not connected (connack={self.connack}, "
                                  f"disconnect={self.disconnect_reason}, waited up to {timeout:.0f}s)")

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.connack = reason
        self._settled.set()
        if not reason.is_failure:
            self.connects += 1
            if self.connects > 1 and self.subscriptions and not flags.session_present:
                client.subscribe(self.subscriptions)
            self.connected.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.disconnect_reason = reason
        self.connected.clear()
        self._settled.set()

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._cv:
            self.messages.append(message)
            self._cv.notify_all()

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._cv:
            self.puback[mid] = reason
            self._cv.notify_all()

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, codes: list[Any], props: Any) -> None:
        with self._cv:
            self.suback[mid] = codes
            self._cv.notify_all()

    def _wait(self, table: dict[int, Any], mid: int, timeout: float, what: str) -> Any:
        with self._cv:
            if not self._cv.wait_for(lambda: mid in table, timeout):
                raise TimeoutError(f"{self.client_id}: no {what} for mid {mid} within {timeout:.0f}s")
            return table.pop(mid)

    def subscribe(self, topic: str, qos: int = 1, timeout: float = 10.0) -> list[Any]:
        """Subscribe and return the SUBACK reason codes."""
        self.subscriptions.append((topic, qos))
        rc, mid = self.client.subscribe(topic, qos)
        assert rc == mqtt.MQTT_ERR_SUCCESS, f"subscribe failed rc={rc}"
        return self._wait(self.suback, mid, timeout, "SUBACK")

    def publish(self, topic: str, payload: bytes | str | dict, qos: int = 1, retain: bool = False,
                timeout: float = 10.0) -> Any:
        """Publish; for QoS 1 wait for the PUBACK and return its reason code."""
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if qos == 0:
            return None
        return self._wait(self.puback, info.mid, timeout, "PUBACK")

    def received(self, topic: str | None = None) -> list[mqtt.MQTTMessage]:
        with self._cv:
            return [m for m in self.messages if topic is None or m.topic == topic]

    def acked_ids(self, agent_id: str, prefix: str = "scfs/v1") -> list[str]:
        """Every id acked to this agent so far, in order, repeats included."""
        return [i for m in self.received(f"{prefix}/{agent_id}/ack") for i in json.loads(m.payload)["ids"]]

    def close(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()


@pytest.fixture(name="broker_factory")
def broker_factory_fixture(tmp_path: Path) -> Iterator[Callable[..., Broker]]:
    made: list[Broker] = []

    def make(start: bool = True, **kwargs: Any) -> Broker:
        b = Broker(tmp_path / f"broker{len(made)}", **kwargs)
        made.append(b)
        return b.start() if start else b

    yield make
    for b in made:
        b.stop()


@pytest.fixture(name="broker")
def broker_fixture(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture(name="tls_broker")
def tls_broker_fixture(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "tls-broker", tls=True, clients=("a1", "a2", "platform")).start()
    yield b
    b.stop()


@pytest.fixture(name="platform")
def platform_fixture(broker: Broker, tmp_path: Path) -> Iterator[Platform]:
    p = Platform("127.0.0.1", broker.port, tmp_path / "platform.db").start()
    yield p
    p.stop()
