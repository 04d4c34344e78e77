"""Barcode readers at receiving (batch numbers, production and expiry dates): one ``TextInput``
per scanned line, from a keyboard-style (HID) scanner or a serial one.

What the text means (a GS1 date, a batch...) is the receiving workflow's business.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from pydantic import Field

from drivers.backoff import Backoff
from drivers.hid_keyboard import HidLineReader, KeySequenceDecoder
from drivers.line_buffer import LineParser
from drivers.readings import HealthSink, ReadingSink, TextInput
from drivers.serial_port import (
    Now,
    PortSettings,
    SerialDeviceSettings,
    SerialReader,
    local_now,
)

log = logging.getLogger(__name__)


class TextLineParser(LineParser[str]):
    """Printable lines; a line with control or non-ASCII bytes is a bad frame."""

    def __init__(self, max_line: int = 256) -> None:
        super().__init__(max_line)

    def decode_line(self, line: bytes) -> str | None:
        text = line.strip()
        if text and all(0x20 <= b < 0x7F for b in text):
            return text.decode("ascii")
        return None


class BarcodeReaderConfig(SerialDeviceSettings):
    """A barcode scanner typing (HID) or printing (serial) one code per line."""

    protocol_defaults = {
        "serial_line": {"baudrate": 9600, "silent_after_s": 0.0},
        "hid": {"silent_after_s": 0.0},
    }

    kind: Literal["barcode_reader"] = "barcode_reader"
    protocol: Literal["hid", "serial_line"] = Field("hid", description="hid: keyboard-style scanner (port is /dev/input/by-id/...-event-kbd); serial_line: one code per line on a serial port.")
    grab: bool = Field(True, description="hid: grab the input device so codes are not typed into other programs.")
    key_gap_s: float = Field(1.0, gt=0, description="hid: a longer pause between keys drops the partial code.")


def open_barcode_reader(cfg: BarcodeReaderConfig, sink: ReadingSink, health_sink: HealthSink,
                        now: Now = local_now) -> SerialReader[str] | HidLineReader:
    """Start reading codes; returns the running reader (``stop()`` it)."""

    def to_reading(text: str, at: datetime) -> TextInput | None:
        text = text.strip()
        if not text:
            return None
        log.info("barcode scanned device=%s length=%d", cfg.id, len(text))
        return TextInput(device_id=cfg.id, at=at, text=text)

    backoff = Backoff(cfg.reconnect_s, cfg.reconnect_max_s)
    if cfg.protocol == "hid":
        return HidLineReader(
            device_id=cfg.id, kind=cfg.kind, path=cfg.port, to_reading=to_reading, sink=sink,
            health_sink=health_sink, decoder=KeySequenceDecoder(max_len=256, gap_s=cfg.key_gap_s),
            backoff=backoff, now=now, grab=cfg.grab,
        ).start()
    return SerialReader(
        device_id=cfg.id, kind=cfg.kind, settings=PortSettings.of(cfg), parser=TextLineParser(),
        to_reading=to_reading, sink=sink, health_sink=health_sink,
        silent_after_s=cfg.silent_after_s, backoff=backoff, now=now,
    ).start()
