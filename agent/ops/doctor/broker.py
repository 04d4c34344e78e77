"""The broker: TCP, TLS verified against the configured CA, and a CONNECT that leaves the agent's session as it was."""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Any

from paho.mqtt.reasoncodes import ReasonCode

from agent.config.tls import broker_tls_context
from agent.config_file.model import AgentConfig
from agent.ops.doctor.checks import Check, reason_of


def check_broker(config: AgentConfig, timeout_s: float, mqtt_connect: bool = True) -> list[Check]:
    """TCP, TLS (verified) and, unless ``mqtt_connect`` is false, a real MQTT CONNECT; for
    every address of a clustered broker (``broker.addresses``), each row named after it."""
    endpoints = config.broker.endpoints()
    checks: list[Check] = []
    for host, port in endpoints:
        suffix = f" {host}:{port}" if len(endpoints) > 1 else ""
        checks += _check_address(config, host, port, timeout_s, mqtt_connect, suffix)
    return checks


def _check_address(config: AgentConfig, host: str, port: int, timeout_s: float, mqtt_connect: bool,
                   suffix: str) -> list[Check]:
    broker = config.broker
    where = f"{host}:{port}"
    others = " (the agent fails over to the other addresses meanwhile)" if suffix else ""
    try:
        raw = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as exc:
        return [Check(f"broker{suffix}", False, f"{where} unreachable: {reason_of(exc)}",
                      "check broker.host/port (or addresses), that the broker runs, and the network/firewall"
                      + others)]
    checks = [Check(f"broker tcp{suffix}", True, f"{where} accepts connections")]
    if broker.tls is not None:
        try:
            with broker_tls_context(broker.tls).wrap_socket(raw, server_hostname=host) as tls_sock:
                cert: dict[str, Any] = tls_sock.getpeercert() or {}
                subject = dict(x[0] for x in cert.get("subject", ()))
                checks.append(Check(f"broker tls{suffix}", True, f"certificate of {subject.get('commonName', '?')} verified, "
                                                         f"valid until {cert.get('notAfter', '?')}, {tls_sock.version()}"))
        except ssl.SSLCertVerificationError as exc:
            return checks + [Check(f"broker tls{suffix}", False, f"certificate not trusted: {exc.verify_message}",
                                   "broker.tls.ca_file must be the CA that signed the broker's certificate; "
                                   "server_name must match its name")]
        except (ssl.SSLError, OSError) as exc:
            return checks + [Check(f"broker tls{suffix}", False, f"TLS handshake failed: {reason_of(exc)}",
                                   "is this a TLS listener? check the port and the client certificate/key")]
    else:
        raw.close()
    if mqtt_connect:
        check = _mqtt_connect(config, host, port, timeout_s)
        checks.append(Check(check.name + suffix, check.ok, check.detail,
                            check.fix + others if not check.ok else check.fix, check.warn))
    return checks


def _mqtt_connect(config: AgentConfig, host: str, port: int, timeout_s: float) -> Check:
    """A CONNECT as the agent makes it: ``protocol: auto`` tries MQTT 5, then 3.1.1 when
    the broker refuses 5 or closes the connection without answering (RabbitMQ 3.10)."""
    broker = config.broker
    check = _mqtt_connect_as(config, host, port, timeout_s, v5=broker.protocol != "mqtt311")
    if broker.protocol == "auto" and check.detail.startswith(("CONNECT refused: Unsupported protocol",
                                                              "connection closed")):
        return _mqtt_connect_as(config, host, port, timeout_s, v5=False)
    return check


def _mqtt_connect_as(config: AgentConfig, host: str, port: int, timeout_s: float, *, v5: bool) -> Check:
    """A real CONNECT with the agent's credentials that leaves the agent's broker session as it was.

    The doctor asks for a client id of its own (``<agent_id>-doctor``), but the shipped brokers
    set ``use_username_as_clientid``: with the agent's user name (or certificate) the broker
    gives the doctor the agent's own client id, whatever it asks for. So the CONNECT is shaped to
    be harmless on the agent's session too:

    - never a clean session / clean start: that would discard the agent's subscriptions and the
      acks and commands the broker holds for it while it is stopped; the session is resumed;
    - MQTT 5: the agent's own session expiry (an expiry of 0 would end the session when the
      doctor disconnects);
    - nothing queued is acknowledged (manual acks, none sent): what the broker delivers to the
      resumed session stays unacknowledged in it and goes to the agent when it reconnects;
    - no subscription, no will, no publish.

    Where the broker does keep the doctor's own id, this leaves an empty session under it
    (no subscriptions, so nothing queues there; with MQTT 5 it expires with the agent's expiry).
    Beside a running agent no CONNECT is made at all: the broker would still throw the agent
    off (``live_mqtt_row``)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    broker = config.broker
    protocol = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{config.identity.agent_id}-doctor",
                         protocol=protocol, clean_session=False if protocol == mqtt.MQTTv311 else None,
                         manual_ack=True)
    properties: Properties | None = None
    if protocol == mqtt.MQTTv5:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it untyped
        properties.SessionExpiryInterval = broker.session_expiry_s
    if broker.username:
        client.username_pw_set(broker.username, broker.password.get_secret_value() if broker.password else None)
    if broker.tls is not None:
        client.tls_set_context(broker_tls_context(broker.tls))  # the same context the uplink uses
    answer: dict[str, ReasonCode] = {}
    done = threading.Event()

    def on_connect(_c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        answer["reason"] = reason
        done.set()

    def on_disconnect(*_a: Any) -> None:
        done.set()  # closed before any CONNACK: no "reason" in answer

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    try:
        if properties is None:  # MQTT 3.1.1: clean_session=False above says it
            client.connect(host, port, keepalive=10)
        else:
            client.connect(host, port, keepalive=10, clean_start=False, properties=properties)
    except (OSError, ssl.SSLError) as exc:
        return Check("broker mqtt", False, f"CONNECT not sent: {reason_of(exc)}", "see the tcp/tls rows above")
    client.loop_start()
    try:
        answered = done.wait(timeout_s)
    finally:
        if answered and "reason" in answer and not answer["reason"].is_failure:
            client.disconnect()
        client.loop_stop()
    if answered and "reason" not in answer:
        return Check("broker mqtt", False, "connection closed without a CONNACK",
                     "is this an MQTT listener? a broker without MQTT 5 needs broker.protocol auto or mqtt311")
    if not answered:
        return Check("broker mqtt", False, f"no CONNACK within {timeout_s:g}s", "is this an MQTT listener?")
    reason = answer["reason"]
    if reason.is_failure:
        return Check("broker mqtt", False, f"CONNECT refused: {reason}",
                     "check broker.username/password_file or the client certificate, and the broker's ACL")
    return Check("broker mqtt", True, f"MQTT {'5' if protocol == mqtt.MQTTv5 else '3.1.1'} CONNECT accepted")
