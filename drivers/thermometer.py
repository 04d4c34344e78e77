"""Infrared thermometers on a serial port: GY-MCU90615-type binary modules and ASCII printers.

``gy90615``: send ``A5 45 EA`` once the port is open and the module streams 9-byte frames
``5A 5A 45 04 OH OL AH AL SUM``: byte 2 is the data type (0x45 temperature), byte 3 the
payload length (4), SUM the low 8 bits of bytes 0-7; object = (OH<<8|OL)/100 °C,
ambient = (AH<<8|AL)/100 °C (read as signed 16 bit: the ambient may be below zero).

``ascii_line``: one reading a line (``36.5\\r\\n``, ``T=36.5C``...), decoded with a
configurable regular expression.

Values outside the plausible range (defaults: the MLX90615's own measuring range) are
counted as bad frames: they come from corruption, not from a person. Whether a value
is a plausible *body* temperature is the morning-check workflow's business.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from drivers.backoff import Backoff
from drivers.line_buffer import LineParser
from drivers.readings import HealthSink, ReadingSink, TemperatureReading
from drivers.serial_port import (
    Now,
    PortSettings,
    SerialDeviceSettings,
    SerialReader,
    local_now,
)

log = logging.getLogger(__name__)

GY_START_COMMAND = bytes([0xA5, 0x45, 0xEA])
GY_HEADER = b"\x5a\x5a"
GY_TYPE_TEMPERATURE = 0x45
GY_FRAME_LEN = 9

DEFAULT_ASCII_PATTERN = (
    r"^\s*(?:[A-Za-z]+\s*[:=]\s*)?(?P<object>[-+]?\d{1,3}(?:\.\d{1,3})?)\s*(?:°|\xb0|deg)?\s*(?P<unit>[CF])?\s*$"
)


@dataclass(frozen=True, slots=True)
class ThermoSample:
    object_c: float
    ambient_c: float | None = None


class PlausibleRange:
    def __init__(self, min_c: float, max_c: float) -> None:
        self.min_c, self.max_c = min_c, max_c

    def __contains__(self, value: float) -> bool:
        return self.min_c <= value <= self.max_c


def gy_frame(object_c: float, ambient_c: float, *, frame_type: int = GY_TYPE_TEMPERATURE) -> bytes:
    """Encode one GY-MCU90615 frame (used by the simulator and the tests)."""
    body = bytearray(GY_HEADER + bytes([frame_type, 0x04]))
    for value in (object_c, ambient_c):
        body += (round(value * 100) & 0xFFFF).to_bytes(2, "big")
    return bytes(body + bytes([sum(body) & 0xFF]))


class Gy90615Parser:
    """Incremental decoder of the GY binary stream; resynchronises on the ``5A 5A`` header."""

    def __init__(self, plausible: PlausibleRange | None = None) -> None:
        self.plausible = plausible or PlausibleRange(-40.0, 125.0)
        self.bad_frames = 0
        self._in_noise = False
        self._buf = bytearray()

    def reset(self) -> None:
        self._buf.clear()
        self._in_noise = False

    def feed(self, data: bytes) -> list[ThermoSample]:
        self._buf += data
        out: list[ThermoSample] = []
        while True:
            start = self._buf.find(GY_HEADER)
            if start < 0:
                # keep a trailing 0x5A: it may be the first half of the next header
                keep = 1 if self._buf[-1:] == b"\x5a" else 0
                self._count_skipped(len(self._buf) - keep)
                del self._buf[: len(self._buf) - keep]
                return out
            self._count_skipped(start)
            del self._buf[:start]
            if len(self._buf) < GY_FRAME_LEN:
                return out
            frame = bytes(self._buf[:GY_FRAME_LEN])
            sample = self._decode(frame)
            if sample is None:
                self._noise()
                del self._buf[:1]  # the header may have been noise: look again one byte on
                continue
            del self._buf[:GY_FRAME_LEN]
            self._in_noise = False
            out.append(sample)

    def _count_skipped(self, n: int) -> None:
        if n > 0:
            self._noise()

    def _noise(self) -> None:
        # one bad frame per run of undecodable bytes between two good frames
        if not self._in_noise:
            self.bad_frames += 1
            self._in_noise = True

    def _decode(self, frame: bytes) -> ThermoSample | None:
        if frame[2] != GY_TYPE_TEMPERATURE or frame[3] != 0x04:
            return None
        if sum(frame[:8]) & 0xFF != frame[8]:
            return None
        obj = int.from_bytes(frame[4:6], "big", signed=True) / 100
        amb = int.from_bytes(frame[6:8], "big", signed=True) / 100
        if obj not in self.plausible or amb not in self.plausible:
            return None
        return ThermoSample(obj, amb)


class AsciiLineThermometerParser(LineParser[ThermoSample]):
    """One reading per line; ``pattern`` has a group ``object`` and optional ``ambient``/``unit``."""

    def __init__(self, pattern: str = DEFAULT_ASCII_PATTERN, plausible: PlausibleRange | None = None,
                 max_line: int = 64) -> None:
        self.pattern = re.compile(pattern)
        self.plausible = plausible or PlausibleRange(-40.0, 125.0)
        super().__init__(max_line)

    def decode_text(self, line: str) -> ThermoSample | None:
        m = self.pattern.search(line)
        if m is None:
            return None
        groups = m.groupdict()
        fahrenheit = (groups.get("unit") or "C").upper() == "F"
        values: list[float | None] = []
        for name in ("object", "ambient"):
            text = groups.get(name)
            if text is None:
                values.append(None)
                continue
            try:
                value = float(text)
            except ValueError:
                return None
            value = (value - 32) * 5 / 9 if fahrenheit else value
            if value not in self.plausible:
                return None
            values.append(round(value, 2))
        if values[0] is None:
            return None
        return ThermoSample(values[0], values[1])


class ThermometerConfig(SerialDeviceSettings):
    """An infrared thermometer on a serial port (morning-check station)."""

    protocol_defaults = {
        "gy90615": {"baudrate": 9600, "silent_after_s": 5.0},
        # USB thermometers usually print only when they measure: silence is normal
        "ascii_line": {"baudrate": 9600, "silent_after_s": 0.0},
    }

    kind: Literal["ir_thermometer"] = "ir_thermometer"
    protocol: Literal["gy90615", "ascii_line"] = Field("gy90615", description="Frame format: GY-MCU90615 binary or one ASCII reading per line.")
    pattern: str = Field(DEFAULT_ASCII_PATTERN, description="ascii_line: regular expression with a group 'object' (°C) and optional 'ambient' and 'unit' (C or F).")
    plausible_min_c: float = Field(-40.0, description="Lowest temperature the sensor can report; anything lower is a corrupt frame.")
    plausible_max_c: float = Field(125.0, description="Highest temperature the sensor can report; anything higher is a corrupt frame.")
    start_command: bool = Field(True, description="gy90615: send A5 45 EA when the port opens (and again after silence).")

    @property
    def streaming(self) -> bool:
        """Sends frames continuously (gy90615), so a measurement is several steady frames."""
        return self.protocol == "gy90615"

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:  # not a ValueError: pydantic would let it escape as a traceback
            raise ValueError(f"pattern is not a valid regular expression: {exc}") from None
        if "object" not in compiled.groupindex:
            raise ValueError("pattern needs a named group 'object'")
        return value


def make_parser(cfg: ThermometerConfig) -> Gy90615Parser | AsciiLineThermometerParser:
    plausible = PlausibleRange(cfg.plausible_min_c, cfg.plausible_max_c)
    if cfg.protocol == "gy90615":
        return Gy90615Parser(plausible)
    return AsciiLineThermometerParser(cfg.pattern, plausible)


def open_thermometer(cfg: ThermometerConfig, sink: ReadingSink, health_sink: HealthSink,
                     now: Now = local_now) -> SerialReader[ThermoSample]:
    """Start reading the thermometer; returns the running reader (``stop()`` it)."""

    def to_reading(sample: ThermoSample, at: datetime) -> TemperatureReading:
        return TemperatureReading(device_id=cfg.id, at=at, object_c=sample.object_c, ambient_c=sample.ambient_c)

    on_open = GY_START_COMMAND if cfg.protocol == "gy90615" and cfg.start_command else b""
    return SerialReader(
        device_id=cfg.id, kind=cfg.kind, settings=PortSettings.of(cfg), parser=make_parser(cfg),
        to_reading=to_reading, sink=sink, health_sink=health_sink,
        silent_after_s=cfg.silent_after_s, on_open=on_open,
        backoff=Backoff(cfg.reconnect_s, cfg.reconnect_max_s), now=now,
    ).start()
