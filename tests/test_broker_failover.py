"""Several broker addresses (a cluster's nodes): parsing, and fail-over against real Mosquittos."""

from __future__ import annotations

import socket

import pytest
from pydantic import ValidationError

from agent.config.broker import BrokerConfig, parse_address
from agent.uplink.connection import BrokerLink, UplinkConfigError
from simulator.platform.broker import Broker, free_port

from .fixtures_mqtt import broker_factory_fixture  # noqa: F401


@pytest.mark.parametrize(("text", "expected"), [
    ("mq1", ("mq1", 1883)), ("mq1:8883", ("mq1", 8883)), ("10.0.0.5:1884", ("10.0.0.5", 1884)),
    ("[fd00::1]:8883", ("fd00::1", 8883)), ("[fd00::1]", ("fd00::1", 1883)), ("fd00::1", ("fd00::1", 1883)),
])
def test_addresses_parse(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text, 1883) == expected


@pytest.mark.parametrize("text", ["mq1:0", "mq1:99999", "mq1:x", ":1883", "[fd00::1", "mq 1"])
def test_bad_addresses_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="broker address"):
        BrokerConfig(addresses=[text])


def test_host_and_addresses_exclusive_and_no_repeats() -> None:
    with pytest.raises(ValidationError, match="either broker.host or broker.addresses"):
        BrokerConfig(host="mq1", addresses=["mq2"])
    with pytest.raises(ValidationError, match="same broker twice"):
        BrokerConfig(addresses=["mq1", "mq1:1883"])
    assert BrokerConfig(port=8883, addresses=["mq1", "mq2:1884"]).endpoints() == [("mq1", 8883), ("mq2", 1884)]
    assert BrokerConfig(host="mq1").endpoints() == [("mq1", 1883)]


def test_plaintext_refused_for_any_remote_address() -> None:
    link = BrokerLink(BrokerConfig(addresses=["127.0.0.1:1", "mq2.example.cn"]), "a1", "t", {},
                      first_connect=True)
    with pytest.raises(UplinkConfigError, match="mq2.example.cn"):
        link.connect(lambda m: None, lambda mid, ok: None, lambda: None)


def _connect(link: BrokerLink) -> str:
    conn = link.connect(lambda m: None, lambda mid, ok: None, lambda: None, timeout_s=5)
    conn.client.disconnect()
    return link.address


def test_fail_over_to_the_next_address_and_stay(broker_factory) -> None:
    """A dead first address: the link connects to the second and stays on it; with both
    down the error names each; the second back, the link goes round to it again."""
    dead_port = free_port()
    second: Broker = broker_factory()
    link = BrokerLink(BrokerConfig(addresses=[f"127.0.0.1:{dead_port}", f"127.0.0.1:{second.port}"]),
                      "a1", "scfs/v1/a1/status", {"online": False}, first_connect=True)
    assert _connect(link) == f"127.0.0.1:{second.port}"
    assert _connect(link) == f"127.0.0.1:{second.port}"  # stays where it worked
    assert link.protocol == "mqtt5"
    second.stop()
    with pytest.raises(ConnectionError) as refused:
        _connect(link)
    assert str(dead_port) in str(refused.value) and str(second.port) in str(refused.value)
    second.start()
    assert _connect(link) == f"127.0.0.1:{second.port}"


def test_the_link_turns_nagle_off(broker_factory) -> None:
    """The uplink publishes its window in bursts: with Nagle's algorithm on, each publish
    after a burst's first would wait for the broker's TCP acknowledgement (a drain at 0.6
    of raw paho, an alarm held back a round trip). paho leaves it on; the link turns it off."""
    broker: Broker = broker_factory()
    link = BrokerLink(BrokerConfig(host="127.0.0.1", port=broker.port), "a1", "scfs/v1/a1/status",
                      {"online": False}, first_connect=True)
    conn = link.connect(lambda m: None, lambda mid, ok: None, lambda: None, timeout_s=5)
    try:
        assert conn.client.socket().getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        conn.client.disconnect()
