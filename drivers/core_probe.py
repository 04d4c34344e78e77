"""Food core-temperature probes (中心温度计): the probe pushed into a dish prints its reading.

Cooks check that food is cooked through (core >= 70 °C) and kept hot (>= 60 °C) with a
handheld probe thermometer. The common serial / USB-serial ones print one reading per
line when the button is pressed, with or without a label and unit, for example
``72.4\\r\\n``, ``+72.4C\\r\\n`` or ``T=72.4 C\\r\\n``. A line that is not one number in the
probe's range (-50 to 300 °C) is a bad frame: never a reading.

What the temperature means (cooked through, hot held) is a workflow's business.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import Field

from drivers.backoff import Backoff
from drivers.line_buffer import LineParser
from drivers.readings import CoreTemperature, HealthSink, ReadingSink
from drivers.serial_port import (
    Now,
    PortSettings,
    SerialDeviceSettings,
    SerialReader,
    local_now,
)

PROBE_MIN_C, PROBE_MAX_C = -50.0, 300.0
_LINE = re.compile(rb"^\s*(?:[A-Za-z]+\s*[=:]\s*)?([+-]?\d{1,3}(?:\.\d{1,2})?)\s*(?:\xc2?\xb0)?\s*C?\s*$")


class CoreProbeParser(LineParser[float]):
    """Lines -> core temperatures in °C."""

    def __init__(self, max_line: int = 32) -> None:
        super().__init__(max_line)

    def decode_line(self, line: bytes) -> float | None:
        match = _LINE.match(line)
        if match is None:
            return None
        celsius = float(match.group(1))
        return celsius if PROBE_MIN_C <= celsius <= PROBE_MAX_C else None


class CoreProbeConfig(SerialDeviceSettings):
    """A core-temperature probe printing one reading per line on a serial port."""

    protocol_defaults = {"ascii_line": {"baudrate": 9600, "silent_after_s": 0.0}}  # speaks only when used

    kind: Literal["core_probe"] = "core_probe"
    protocol: Literal["ascii_line"] = Field("ascii_line", description="ascii_line: one temperature (°C) per line.")


def open_core_probe(cfg: CoreProbeConfig, sink: ReadingSink, health_sink: HealthSink,
                    now: Now = local_now) -> SerialReader[float]:
    """Start reading the probe; returns the running reader (``stop()`` it)."""

    def to_reading(celsius: float, at: datetime) -> CoreTemperature:
        return CoreTemperature(device_id=cfg.id, at=at, core_c=celsius)

    return SerialReader(
        device_id=cfg.id, kind=cfg.kind, settings=PortSettings.of(cfg), parser=CoreProbeParser(),
        to_reading=to_reading, sink=sink, health_sink=health_sink, silent_after_s=cfg.silent_after_s,
        backoff=Backoff(cfg.reconnect_s, cfg.reconnect_max_s), now=now,
    ).start()
