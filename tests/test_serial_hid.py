"""The evdev wrapper around the key decoder, with a fake input device: grab, decode, reconnect."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import pytest
from evdev import ecodes

from drivers.badge import BadgeReaderConfig, open_badge_reader
from drivers.barcode import BarcodeReaderConfig, open_barcode_reader
from drivers.readings import BadgeScan, DeviceState, TextInput
from tests.test_parsers_badge import type_line

pytestmark = pytest.mark.timeout(20)


@dataclass
class Event:
    type: int
    code: int
    value: int
    t: float

    def timestamp(self) -> float:
        return self.t


class FakeInputDevice:
    """Readable through select() via a pipe; ``unplug()`` makes read() fail like ENODEV."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        self._events: list[Event] = []
        self._lock = threading.Lock()
        self.grabbed = False
        self.gone = False

    def fileno(self) -> int:
        return self._r

    def grab(self) -> None:
        self.grabbed = True

    def type(self, text: str) -> None:
        t = time.monotonic()
        with self._lock:
            self._events += [Event(ecodes.EV_KEY, c, v, t + dt) for c, v, dt in type_line(text)]
        os.write(self._w, b"x")

    def unplug(self) -> None:
        self.gone = True
        os.write(self._w, b"x")

    def read(self):
        os.read(self._r, 1024)
        if self.gone:
            raise OSError(19, "No such device")
        with self._lock:
            events, self._events = self._events, []
        return iter(events)

    def close(self) -> None:
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass


class FakeInputs:
    """``open_device`` stand-in: fails while no device is plugged in."""

    def __init__(self) -> None:
        self.current: FakeInputDevice | None = None
        self.opened = threading.Event()

    def plug(self) -> FakeInputDevice:
        self.current = FakeInputDevice()
        return self.current

    def open(self, path: str) -> FakeInputDevice:
        if self.current is None or self.current.gone:
            raise FileNotFoundError(2, "No such file", path)
        self.opened.set()
        return self.current


def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_hid_badge_reader_grabs_decodes_and_reconnects(monkeypatch) -> None:
    inputs = FakeInputs()
    monkeypatch.setattr("drivers.hid_keyboard.open_input_device", inputs.open)
    readings, health = [], []
    cfg = BadgeReaderConfig(id="b", port="/dev/input/by-id/usb-reader-event-kbd", card_format="decimal10",
                            reconnect_s=0.02, reconnect_max_s=0.1)
    reader = open_badge_reader(cfg, readings.append, health.append)
    try:
        wait_until(lambda: any(h.state is DeviceState.DISCONNECTED for h in health))
        device = inputs.plug()
        wait_until(lambda: reader.state is DeviceState.OK)
        assert device.grabbed
        device.type("4212345")
        wait_until(lambda: len(readings) == 1)
        device.type("ZZZ")  # not a card number: rejected, counted
        wait_until(lambda: reader.bad_frames == 1)
        device.unplug()
        wait_until(lambda: reader.state is DeviceState.DISCONNECTED)
        device = inputs.plug()
        wait_until(lambda: reader.state is DeviceState.OK)
        device.type("00A1B2C3")
        wait_until(lambda: len(readings) == 2)
    finally:
        reader.stop()
    assert [r.card for r in readings if isinstance(r, BadgeScan)] == ["0004212345", "0010597059"]


def test_hid_barcode_reader_emits_text(monkeypatch) -> None:
    inputs = FakeInputs()
    monkeypatch.setattr("drivers.hid_keyboard.open_input_device", inputs.open)
    device = inputs.plug()
    readings = []
    reader = open_barcode_reader(BarcodeReaderConfig(id="c", port="/dev/input/event9"), readings.append,
                                 lambda h: None)
    try:
        wait_until(lambda: reader.state is DeviceState.OK)
        device.type("(17)261130(10)LOT-42")
        wait_until(lambda: readings)
    finally:
        reader.stop()
    assert readings == [TextInput(device_id="c", at=readings[0].at, text="(17)261130(10)LOT-42")]
