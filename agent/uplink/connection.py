"""One MQTT connection to the platform's broker (paho-mqtt 2.x).

A fresh paho client per connection attempt keeps paho's in-memory state out of the
delivery logic: what must be (re)sent is decided from the store alone. The broker
session itself persists (client id = the MQTT user name, else agent_id; clean start
only the very first time, session expiry >= 1 day), so acks and commands queued while
we were away still arrive.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import select
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from agent.config.broker import BrokerConfig
from agent.config.tls import broker_tls_context

log = logging.getLogger("agent.uplink")

MessageHandler = Callable[[mqtt.MQTTMessage], None]
PubackHandler = Callable[[int, bool], None]


class UplinkConfigError(ValueError):
    """The broker settings are unsafe or unusable (e.g. plaintext off loopback)."""


@dataclass
class Connected:
    client: mqtt.Client
    protocol: str  # "mqtt5" | "mqtt311"
    receive_maximum: int
    session_present: bool
    net: NetLoop


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport_policy(config: BrokerConfig, host: str | None = None) -> None:
    """Refuse plaintext to a remote broker unless explicitly allowed (then warn).

    ``host``: the one address about to be used; every configured address by default."""
    hosts = [host] if host is not None else [h for h, _port in config.endpoints()]
    for name in hosts:
        if config.tls is not None or is_loopback(name):
            continue
        if not config.allow_plaintext_remote:
            raise UplinkConfigError(
                f"refusing plaintext MQTT to non-loopback broker {name}: configure broker.tls "
                "or set broker.allow_plaintext_remote: true")
        log.warning("plaintext MQTT to remote broker host=%s (allow_plaintext_remote is set)", name)


class BrokerLink:
    """Builds and connects paho clients according to the broker config.

    Several addresses (``broker.addresses``, the nodes of a clustered broker): the link
    stays on the one that last worked and, when it cannot connect there, tries the others
    in turn within the same ``connect`` call; the session lives in the cluster, so it
    resumes on whichever node answers. ``protocol: auto`` is settled per address: MQTT 5
    first; a broker that refuses it, or closes the connection without a CONNACK (RabbitMQ
    before 3.13 does), is spoken to in MQTT 3.1.1 from then on."""

    def __init__(self, config: BrokerConfig, client_id: str, status_topic: str,
                 will_payload: dict[str, Any], *, first_connect: bool) -> None:
        self.config = config
        self.client_id = client_id
        self.status_topic = status_topic
        self.will_payload = will_payload
        self.first_connect = first_connect
        self.endpoints = config.endpoints()
        self.current = 0  # index in endpoints: where the last connect succeeded or was tried
        first = "mqtt311" if config.protocol == "mqtt311" else "mqtt5"
        self.protocols = {endpoint: first for endpoint in self.endpoints}

    @property
    def protocol(self) -> str:
        """The protocol spoken to the current address."""
        return self.protocols[self.endpoints[self.current]]

    @property
    def address(self) -> str:
        host, port = self.endpoints[self.current]
        return f"{host}:{port}"

    def connect(self, on_message: MessageHandler, on_puback: PubackHandler,
                on_disconnect: Callable[[], None], timeout_s: float = 10.0,
                beat: Callable[[], None] = lambda: None) -> Connected:
        """Connect (falling back from MQTT 5 to 3.1.1 in "auto"); raise ConnectionError.

        ``beat`` is called while waiting for the CONNACK (the caller's liveness). With
        several addresses each is tried once, from the current one on; the error says
        why each failed."""
        check_transport_policy(self.config)
        failed: list[tuple[str, ConnectionError]] = []
        for step in range(len(self.endpoints)):
            index = (self.current + step) % len(self.endpoints)
            if step:
                beat()
                log.warning("broker %s unreachable (%s): failing over to %s:%d", *failed[-1],
                            *self.endpoints[index])
            self.current = index
            try:
                return self._connect_endpoint(on_message, on_puback, on_disconnect, timeout_s, beat)
            except ConnectionError as exc:
                failed.append((self.address, exc))
        if len(failed) == 1:
            raise failed[0][1]
        raise ConnectionError("; ".join(f"{where}: {exc}" for where, exc in failed))

    def _connect_endpoint(self, on_message: MessageHandler, on_puback: PubackHandler,
                          on_disconnect: Callable[[], None], timeout_s: float,
                          beat: Callable[[], None]) -> Connected:
        endpoint = self.endpoints[self.current]
        try:
            return self._connect_once(self.protocol, on_message, on_puback, on_disconnect, timeout_s, beat)
        except _ProtocolRefused as refused:
            if self.config.protocol != "auto" or self.protocol == "mqtt311":
                raise ConnectionError(f"broker refused the MQTT protocol version ({refused})") from None
            log.warning("broker %s refused MQTT 5 (%s): falling back to MQTT 3.1.1", self.address, refused)
            self.protocols[endpoint] = "mqtt311"
            return self._connect_once(self.protocol, on_message, on_puback, on_disconnect, timeout_s, beat)

    def _client(self, protocol: str) -> mqtt.Client:
        version = mqtt.MQTTv5 if protocol == "mqtt5" else mqtt.MQTTv311
        # clean_session exists only in MQTT 3.1.1 (MQTT 5 says clean_start at connect)
        clean_session = self.first_connect if version == mqtt.MQTTv311 else None
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=version,
                             clean_session=clean_session)
        client.max_inflight_messages_set(self.config.inflight_max)
        client.max_queued_messages_set(0)
        if self.config.username:
            password = self.config.password.get_secret_value() if self.config.password else None
            client.username_pw_set(self.config.username, password)
        tls = self.config.tls
        if tls is not None:
            client.tls_set_context(broker_tls_context(tls))
        client.will_set(self.status_topic, json.dumps(self.will_payload), qos=1, retain=True)
        return client

    def _connect_once(self, protocol: str, on_message: MessageHandler, on_puback: PubackHandler,
                      on_disconnect: Callable[[], None], timeout_s: float,
                      beat: Callable[[], None]) -> Connected:
        client = self._client(protocol)
        result: dict[str, Any] = {}

        def connected(_c: mqtt.Client, _u: Any, flags: Any, reason_code: ReasonCode,
                      properties: Properties | None) -> None:
            result["rc"] = reason_code
            result["session_present"] = bool(getattr(flags, "session_present", False))
            result["receive_maximum"] = getattr(properties, "ReceiveMaximum", 65535) if properties else 65535

        def published(_c: mqtt.Client, _u: Any, mid: int, reason_code: ReasonCode, _p: Any) -> None:
            on_puback(mid, not reason_code.is_failure)

        client.on_connect = connected
        client.on_message = lambda _c, _u, message: on_message(message)
        client.on_publish = published
        client.on_disconnect = lambda *_a: on_disconnect()
        clean_start: bool | Literal[3] = mqtt.MQTT_CLEAN_START_FIRST_ONLY  # paho's default
        props: Properties | None = None
        if protocol == "mqtt5":
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it untyped
            props.SessionExpiryInterval = self.config.session_expiry_s
            clean_start = self.first_connect
        host, port = self.endpoints[self.current]
        try:
            client.connect(host, port, keepalive=self.config.keepalive_s,
                           clean_start=clean_start, properties=props)
        except (TimeoutError, OSError, ssl.SSLError) as exc:
            raise ConnectionError(f"cannot reach broker {host}:{port}: {exc}") from exc
        # Nagle off: the uplink publishes in bursts, and with it on every publish after a
        # burst's first waits for the broker's TCP acknowledgement (the drain ran at 0.6 of
        # raw paho instead of 0.9, and an alarm behind an unacknowledged message waits a
        # round trip; docs/ARCHITECTURE.md step 7).
        sock = client.socket()
        if isinstance(sock, socket.socket):  # TLS sockets too; gone already: the CONNACK wait says so
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                log.debug("TCP_NODELAY not set", exc_info=True)
        net = NetLoop(client)
        deadline = time.monotonic() + timeout_s
        closed = False
        while "rc" not in result and time.monotonic() < deadline:
            beat()
            if net.turn(0.1) != mqtt.MQTT_ERR_SUCCESS and "rc" not in result:
                closed = True
                break
        rc = result.get("rc")
        if rc is None:
            _close(client)
            if closed and protocol == "mqtt5":
                # an MQTT 3.1.1-only broker may drop an MQTT 5 CONNECT without answering
                raise _ProtocolRefused("connection closed without a CONNACK")
            raise ConnectionError("no CONNACK from broker")
        if rc.is_failure:
            _close(client)
            if rc.value in (0x84, 1):  # unsupported protocol version (v5 / v3 codes)
                raise _ProtocolRefused(str(rc))
            raise ConnectionError(f"broker refused connection: {rc}")
        self.first_connect = False
        return Connected(client, protocol, int(result["receive_maximum"]), result["session_present"], net)


class NetLoop:
    """paho's network loop turned by the caller's thread: wait up to ``timeout`` for the
    socket, read what came, write what waits, keep alive.

    paho's own ``loop()`` keeps a socket pair to be woken from other threads, and then every
    ``publish()`` writes a byte into it: a system call per message for a wake-up that this
    thread, the only one that publishes or loops, never needs. paho's external-loop calls
    (``loop_read``, ``loop_write``, ``loop_misc``) do the same work without it; one ``poll``
    object, registered once, replaces a ``select`` built at every turn."""

    def __init__(self, client: mqtt.Client) -> None:
        self.client = client
        self._poll = select.poll()
        self._sock: Any = None
        self._mask = 0

    def turn(self, timeout: float) -> int:
        """One turn; ``MQTT_ERR_SUCCESS`` or paho's error code."""
        client = self.client
        sock = client.socket()
        if sock is None:
            return int(mqtt.MQTT_ERR_NO_CONN)
        mask = select.POLLIN | (select.POLLOUT if client.want_write() else 0)
        if sock is not self._sock:
            if self._sock is not None:
                self._poll.unregister(self._sock)
            self._poll.register(sock, mask)
            self._sock, self._mask = sock, mask
        elif mask != self._mask:
            self._poll.modify(sock, mask)
            self._mask = mask
        # bytes TLS has already decrypted are not seen by poll: read them without waiting
        pending = sock.pending() if isinstance(sock, ssl.SSLSocket) else 0
        try:
            events = self._poll.poll(0 if pending else int(timeout * 1000))
        except (OSError, ValueError):  # closed under us: the connection is lost
            return int(mqtt.MQTT_ERR_CONN_LOST)
        ready = events[0][1] if events else 0
        if ready & ~select.POLLOUT or pending:  # data, or a hang-up/error that the read reports
            rc = client.loop_read()
            if rc != mqtt.MQTT_ERR_SUCCESS or client.socket() is None:
                return int(rc or mqtt.MQTT_ERR_CONN_LOST)
        if ready & select.POLLOUT:
            rc = client.loop_write()
            if rc != mqtt.MQTT_ERR_SUCCESS or client.socket() is None:
                return int(rc or mqtt.MQTT_ERR_CONN_LOST)
        return int(client.loop_misc())


class _ProtocolRefused(Exception):
    pass


def _close(client: mqtt.Client) -> None:
    try:
        client.disconnect()
    except Exception:  # noqa: BLE001 - closing a half-open client
        pass
    close_socket(client)


def close_socket(client: mqtt.Client) -> None:
    """Close a client's socket, whatever state the connection is in (never raises)."""
    try:
        sock = client.socket()
        if sock is not None:
            sock.close()
    except Exception:  # noqa: BLE001
        pass
