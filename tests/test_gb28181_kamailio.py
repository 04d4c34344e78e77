"""The GB device's digest REGISTER against Debian's Kamailio (a registrar nobody here wrote)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest

from agent.video.gb28181.device import GbDevice
from agent.video.gb28181.settings import GbSettings
from agent.video.gb28181.status import REFUSED, REGISTERED
from drivers.backoff import Backoff
from simulator.platform.kamailio import Kamailio, kamailio_binary
from tests.fixtures_mqtt import wait_until

DEVICE_ID = "51010400001180000009"
DOMAIN = "5101040000"

pytestmark = pytest.mark.skipif(kamailio_binary() is None, reason="kamailio not installed (./dev.sh test installs it)")


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[Kamailio]:
    server = Kamailio(tmp_path / "kamailio", DOMAIN, {DEVICE_ID: "kam-pass-1"}).start()
    yield server
    server.stop()


def run_device(kamailio: Kamailio, password: str) -> tuple[GbDevice, threading.Event, threading.Thread]:
    settings = GbSettings("51010400002000000001", DOMAIN, "127.0.0.1", kamailio.port, DEVICE_ID, password,
                          local_port=0, local_host="127.0.0.1", register_s=60, keepalive_s=1)
    device = GbDevice(settings, [], ring=None, alarms=None, tz=UTC, backoff=Backoff(0.2, 1.0))
    stop = threading.Event()
    thread = threading.Thread(target=device.run, args=(stop,), daemon=True)
    thread.start()
    return device, stop, thread


def test_digest_register_with_kamailio(kamailio: Kamailio) -> None:
    device, stop, thread = run_device(kamailio, "kam-pass-1")
    try:
        wait_until(lambda: device.status.state == REGISTERED, timeout=10)
        wait_until(lambda: device.status.last_keepalive_ok is not None, timeout=5)  # Kamailio knows the contact
        assert device.status.expires_s == 60
    finally:
        stop.set()
        thread.join(10)


def test_kamailio_refuses_a_wrong_password(kamailio: Kamailio) -> None:
    device, stop, thread = run_device(kamailio, "not-the-password")
    try:
        wait_until(lambda: device.status.state == REFUSED, timeout=10)
        assert "auth failed for " + DEVICE_ID in kamailio.log()
    finally:
        stop.set()
        thread.join(10)
