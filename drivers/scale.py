"""Scales with continuous serial output: four common frame formats, one stability filter.

Formats (``protocol``):

``ad_ascii``            A&D-style lines ``ST,+00123.45  g``: ST stable, US unstable, OL
                        overload, QT counting mode (no weight).
``indicator_ascii``     generic indicator lines ``ST,GS,+  4.876kg``: GS gross, NT net.
``mettler_continuous``  Mettler Toledo continuous: STX SWA SWB SWC, 6 weight digits, 6 tare
                        digits, CR, optional checksum (2's complement of the 7-bit sum of
                        everything before it). SWA bits 0-2: decimal point (0 → ×100,
                        1 → ×10, 2 → ×1, 3 → /10 ... 7 → /100000); SWB bit 0 net, 1 negative,
                        2 overload, 3 in motion, 4 kg (else lb). 7 data bits + parity on the
                        wire: bit 7 of every byte is masked here.
``yaohua_a9``           Yaohua XK3190-A9 continuous format 0: 02, sign, 6 digits (high
                        first), decimal places (0-4), XOR check high/low nibble as ASCII, 03.
                        The frame carries neither unit nor motion flag: the unit is
                        configured, and "stable" means ``settle_frames`` identical frames.

Only stable, in-range weights become ``StableWeight`` (grams). The stability filter
(default on) turns a scale that repeats "ST 131.0 g" ten times a second into one
reading per placement: it emits again only after the weight moves by more than
``stability_change_g`` or the scale returns to within ``stability_zero_g`` of zero.

A weight no working scale can show (above its ``capacity_g``, or below zero by more
than ``zero_tolerance_g``) is a device error, not a weighing: ``ST,+9999.00 kg`` from a
bench scale is a corrupted frame or a broken load cell. Such frames are dropped before
the filter and counted with the bad frames in the device's health, so a scale that only
sends them goes SILENT like one that sends nothing valid.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Literal, TypeVar

from pydantic import Field

from drivers.backoff import Backoff
from drivers.line_buffer import LineParser
from drivers.readings import HealthSink, ReadingSink, StableWeight
from drivers.serial_port import (
    FrameParser,
    Now,
    PortSettings,
    SerialDeviceSettings,
    SerialReader,
    local_now,
)

log = logging.getLogger(__name__)

GRAMS_PER_UNIT = {"mg": 0.001, "g": 1.0, "kg": 1000.0, "t": 1_000_000.0,
                  "lb": 453.59237, "oz": 28.349523125}
STX, ETX, CR = 0x02, 0x03, 0x0D


@dataclass(frozen=True, slots=True)
class ScaleFrame:
    """One decoded frame. ``grams`` is None when the frame holds no weight in a mass unit."""

    grams: float | None
    stable: bool
    overload: bool = False
    net: bool = False
    tare_g: float | None = None


def to_grams(value: float, unit: str) -> float | None:
    factor = GRAMS_PER_UNIT.get(unit.strip().lower())
    return None if factor is None else round(value * factor, 6)


# -- ASCII line formats -------------------------------------------------------------------

_BODY = re.compile(r"^\s*(?P<sign>[-+])?\s*(?P<num>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[A-Za-z%]{1,3})\s*$")
_AD_LINE = re.compile(r"(?P<head>ST|US|OL|QT),(?P<body>[^,]*)$")
_INDICATOR_LINE = re.compile(r"(?P<head>ST|US|OL),(?P<mode>GS|NT),(?P<body>[^,]*)$")


class _LineScaleParser(LineParser[ScaleFrame]):
    """Shared line handling: a line that does not decode is one bad frame.

    The header is *searched* for, so noise before it on the same line is skipped.
    """

    line_pattern: re.Pattern[str]

    def __init__(self, max_line: int = 64) -> None:
        super().__init__(max_line)

    def decode_text(self, line: str) -> ScaleFrame | None:
        m = self.line_pattern.search(line)
        if m is None:
            return None
        head = m["head"]
        net = m.groupdict().get("mode") == "NT"
        if head == "OL":
            return ScaleFrame(None, stable=False, overload=True, net=net)
        body = _BODY.match(m["body"])
        if body is None:
            return None
        value = float(body["num"]) * (-1 if body["sign"] == "-" else 1)
        grams = None if head == "QT" else to_grams(value, body["unit"])
        return ScaleFrame(grams, stable=head in ("ST", "QT"), net=net)


class AdAsciiParser(_LineScaleParser):
    line_pattern = _AD_LINE


class IndicatorAsciiParser(_LineScaleParser):
    line_pattern = _INDICATOR_LINE


# -- Mettler Toledo continuous ---------------------------------------------------------------

Decoded = TypeVar("Decoded")  # what one binary frame decodes to

def mettler_checksum(data: bytes) -> int:
    return -sum(b & 0x7F for b in data) & 0x7F


class _BinaryFrameParser(Generic[Decoded]):
    """Bad frames are counted once per run of bytes between two good frames."""

    bad_frames = 0
    _in_noise = False
    _buf: bytearray

    def _decode(self, raw: bytes) -> Decoded | None:
        raise NotImplementedError  # each protocol's frame

    def _noise(self) -> None:
        if not self._in_noise:
            self.bad_frames += 1
            self._in_noise = True

    def _scan(self, frame_len: int) -> list[Decoded]:
        """Decode every whole STX-started frame in ``self._buf`` (``self._decode`` of
        the subclass), resynchronising on the next STX after garbage."""
        out: list[Decoded] = []
        while True:
            start = self._buf.find(STX)
            if start < 0:
                if self._buf:
                    self._noise()
                self._buf.clear()
                return out
            if start:
                self._noise()
                del self._buf[:start]
            if len(self._buf) < frame_len:
                return out
            value = self._decode(bytes(self._buf[:frame_len]))
            if value is None:
                self._noise()
                del self._buf[:1]
                continue
            del self._buf[:frame_len]
            self._in_noise = False
            out.append(value)


class MettlerContinuousParser(_BinaryFrameParser[ScaleFrame]):
    def __init__(self, checksum: bool = False) -> None:
        self.checksum = checksum
        self.frame_len = 18 if checksum else 17
        self.bad_frames = 0
        self._buf = bytearray()

    def reset(self) -> None:
        self._buf.clear()
        self._in_noise = False

    def feed(self, data: bytes) -> list[ScaleFrame]:
        self._buf += bytes(b & 0x7F for b in data)  # drop the parity bit (7 data bits)
        return self._scan(self.frame_len)

    def _decode(self, raw: bytes) -> ScaleFrame | None:
        swa, swb = raw[1], raw[2]
        digits = raw[4:16]
        if raw[16] != CR or any(not (0x30 <= d <= 0x39 or d == 0x20) for d in digits):
            return None
        if self.checksum and mettler_checksum(raw[:17]) != raw[17]:
            return None
        places = (swa & 0x07) - 2  # code 0 → ×100, 2 → ×1, 4 → two decimals
        unit = "kg" if swb & 0x10 else "lb"
        sign = -1 if swb & 0x02 else 1
        weight = _shift(int(digits[:6].replace(b" ", b"0")), places) * sign
        tare = _shift(int(digits[6:].replace(b" ", b"0")), places)
        return ScaleFrame(
            to_grams(weight, unit), stable=not swb & 0x08, overload=bool(swb & 0x04),
            net=bool(swb & 0x01), tare_g=to_grams(tare, unit),
        )


def _shift(n: int, places: int) -> float:
    return n / 10**places if places >= 0 else float(n * 10**-places)


def mettler_frame(value: float, *, decimals: int = 3, unit: str = "kg", motion: bool = False,
                  net: bool = False, tare: float = 0.0, overload: bool = False,
                  checksum: bool = False) -> bytes:
    """Encode a Mettler continuous frame (7-bit, no parity: the simulator adds it)."""
    swa = 0x20 | 0x08 | ((2 + decimals) & 0x07)  # bit 5 always set; increment ×1
    swb = 0x20 | (net and 0x01) | (value < 0 and 0x02) | (overload and 0x04) | (motion and 0x08) | (unit == "kg" and 0x10)
    swc = 0x20
    scale = 10 ** decimals
    body = bytes([STX, swa, swb, swc]) + b"%06d%06d" % (round(abs(value) * scale), round(tare * scale)) + bytes([CR])
    return body + (bytes([mettler_checksum(body)]) if checksum else b"")


# -- Yaohua XK3190-A9 continuous format 0 --------------------------------------------------------
# Check characters, per the XK3190 series manuals (A9+, A23P and A26 "continuous
# communication format 0"): XOR of bytes 2-9 (sign, six digits, decimal digit); its
# high and low nibbles are each sent as one ASCII character, adding 30h when <= 9 and
# 37h otherwise (so 0-9, A-F).

def yaohua_check(payload: bytes) -> bytes:
    x = 0
    for b in payload:
        x ^= b
    return bytes(n + (0x30 if n <= 9 else 0x37) for n in (x >> 4, x & 0x0F))


def yaohua_frame(value: float, decimals: int = 2) -> bytes:
    payload = (b"-" if value < 0 else b"+") + b"%06d%d" % (round(abs(value) * 10**decimals), decimals)
    return bytes([STX]) + payload + yaohua_check(payload) + bytes([ETX])


class YaohuaA9Parser(_BinaryFrameParser[float]):
    FRAME_LEN = 12

    def __init__(self, unit: str = "kg", settle_frames: int = 5) -> None:
        self.unit = unit
        self.settle_frames = settle_frames
        self.bad_frames = 0
        self._buf = bytearray()
        self._same_value: float | None = None
        self._same_count = 0

    def reset(self) -> None:
        self._buf.clear()
        self._in_noise = False
        self._same_value, self._same_count = None, 0

    def feed(self, data: bytes) -> list[ScaleFrame]:
        self._buf += data
        return [self._with_stability(value) for value in self._scan(self.FRAME_LEN)]

    def _decode(self, raw: bytes) -> float | None:
        payload = raw[1:9]
        if raw[11] != ETX or raw[1] not in b"+- " or not payload[1:].isdigit() or payload[7] > ord("4"):
            return None
        if yaohua_check(payload) != raw[9:11]:
            return None
        value = int(payload[1:7]) / float(10 ** (payload[7] - 0x30))
        return -value if raw[1] == ord("-") else value

    def _with_stability(self, value: float) -> ScaleFrame:
        # the indicator sends no motion flag: N identical frames in a row count as stable
        if value == self._same_value:
            self._same_count += 1
        else:
            self._same_value, self._same_count = value, 1
        return ScaleFrame(to_grams(value, self.unit), stable=self._same_count >= self.settle_frames)


# -- one reading per placement -----------------------------------------------------------------

class StabilityFilter:
    """Let through one stable weight per settled placement (see the module docstring)."""

    def __init__(self, change_g: float = 5.0, zero_g: float = 2.0, emit_zero: bool = False) -> None:
        self.change_g, self.zero_g, self.emit_zero = change_g, zero_g, emit_zero
        self._last: float | None = None  # last emitted weight; None: re-armed
        self._zero_reported = True  # a scale starts empty: do not report that

    def accept(self, frame: ScaleFrame) -> bool:
        if frame.grams is None or frame.overload:
            return False
        if abs(frame.grams) <= self.zero_g:
            self._last = None  # any frame near zero (even in motion) means the item left
            if frame.stable and self.emit_zero and not self._zero_reported:
                self._zero_reported = True
                return True
            return False
        self._zero_reported = False
        if not frame.stable:
            return False
        if self._last is None or abs(frame.grams - self._last) > self.change_g:
            self._last = frame.grams
            return True
        return False


# -- what a working scale can show --------------------------------------------------------------

class WeighingRange:
    """Wraps a parser: frames outside ``[-zero_tolerance_g, capacity_g]`` become bad frames.

    Frames without a weight (overload, counting mode) pass: they say nothing about grams.
    """

    def __init__(self, parser: FrameParser[ScaleFrame], device_id: str, capacity_g: float,
                 zero_tolerance_g: float) -> None:
        self.parser = parser
        self.device_id = device_id
        self.max_g = capacity_g
        self.min_g = -zero_tolerance_g
        self.out_of_range = 0
        self._in_run = False  # log once per run of rejected frames, not ten times a second

    @property
    def bad_frames(self) -> int:
        return self.parser.bad_frames + self.out_of_range

    def reset(self) -> None:
        self.parser.reset()

    def feed(self, data: bytes) -> list[ScaleFrame]:
        return [frame for frame in self.parser.feed(data) if self._in_range(frame)]

    def _in_range(self, frame: ScaleFrame) -> bool:
        if frame.grams is None or self.min_g <= frame.grams <= self.max_g:
            self._in_run = False
            return True
        self.out_of_range += 1
        if not self._in_run:
            self._in_run = True
            log.warning("scale out of range device=%s grams=%.3f min_g=%g max_g=%g: frame rejected",
                        self.device_id, frame.grams, self.min_g, self.max_g)
        return False


# -- config and factory ------------------------------------------------------------------------

Protocol = Literal["ad_ascii", "indicator_ascii", "mettler_continuous", "yaohua_a9"]


class ScaleConfig(SerialDeviceSettings):
    """A scale with continuous output (food samples, receiving, additives)."""

    # capacity_g: the largest "Max" these families commonly ship with in a kitchen: A&D
    # bench scales (food samples) up to 60 kg, indicators and Mettler terminals on platform
    # scales up to 300 kg, Yaohua A9 on floor scales for deliveries up to 3 t. Set the
    # nameplate's Max: it is what makes a corrupted frame a device error.
    protocol_defaults = {
        "ad_ascii": {"baudrate": 2400, "bytesize": 7, "parity": "E", "capacity_g": 60_000.0},
        "indicator_ascii": {"baudrate": 9600, "bytesize": 8, "parity": "N", "capacity_g": 300_000.0},
        "mettler_continuous": {"baudrate": 9600, "bytesize": 7, "parity": "E", "capacity_g": 300_000.0},
        "yaohua_a9": {"baudrate": 9600, "bytesize": 8, "parity": "N", "capacity_g": 3_000_000.0},
    }

    kind: Literal["scale"] = "scale"
    protocol: Protocol = Field("ad_ascii", description="Frame format: ad_ascii, indicator_ascii, mettler_continuous or yaohua_a9.")
    checksum: bool = Field(False, description="mettler_continuous: frames end with the optional checksum character.")
    unit: Literal["g", "kg", "t", "lb", "oz"] = Field("kg", description="yaohua_a9: the unit the indicator displays (its frames carry none).")
    settle_frames: int = Field(5, ge=1, description="yaohua_a9: identical consecutive frames that count as stable (no motion flag).")
    stability_filter: bool = Field(True, description="Emit one StableWeight per settled placement instead of every stable frame.")
    stability_change_g: float = Field(5.0, gt=0, description="Filter: a new weight is emitted once it differs from the last by more than this (grams).")
    stability_zero_g: float = Field(2.0, ge=0, description="Filter: within this of zero the scale counts as empty and the filter re-arms (grams).")
    emit_zero: bool = Field(False, description="Filter: also emit one StableWeight of ~0 g when the scale settles empty.")
    capacity_g: float = Field(
        60_000.0, gt=0, allow_inf_nan=False,
        description="The scale's Max (nameplate) in grams; heavier readings are device errors. "
                    "Default depends on the protocol (60 kg A&D, 300 kg indicator/Mettler, 3 t Yaohua).")
    zero_tolerance_g: float | None = Field(
        None, ge=0, allow_inf_nan=False,
        description="Readings below zero by more than this (grams) are device errors; "
                    "default 2 % of capacity_g (room for a drifting zero and a removed tare).")

    def zero_tolerance(self) -> float:
        return self.zero_tolerance_g if self.zero_tolerance_g is not None else 0.02 * self.capacity_g


def make_parser(cfg: ScaleConfig) -> WeighingRange:
    """The protocol's decoder behind the scale's weighing range."""
    return WeighingRange(_frame_parser(cfg), cfg.id, cfg.capacity_g, cfg.zero_tolerance())


def _frame_parser(cfg: ScaleConfig) -> FrameParser[ScaleFrame]:
    if cfg.protocol == "ad_ascii":
        return AdAsciiParser()
    if cfg.protocol == "indicator_ascii":
        return IndicatorAsciiParser()
    if cfg.protocol == "mettler_continuous":
        return MettlerContinuousParser(cfg.checksum)
    return YaohuaA9Parser(cfg.unit, cfg.settle_frames)


def open_scale(cfg: ScaleConfig, sink: ReadingSink, health_sink: HealthSink,
               now: Now = local_now) -> SerialReader[ScaleFrame]:
    """Start reading the scale; returns the running reader (``stop()`` it)."""
    stability = StabilityFilter(cfg.stability_change_g, cfg.stability_zero_g, cfg.emit_zero)

    def to_reading(frame: ScaleFrame, at: datetime) -> StableWeight | None:
        if cfg.stability_filter:
            if not stability.accept(frame):
                return None
        elif frame.grams is None or frame.overload or not frame.stable:
            return None
        assert frame.grams is not None
        log.info("scale stable device=%s grams=%.3f net=%s", cfg.id, frame.grams, frame.net)
        return StableWeight(device_id=cfg.id, at=at, grams=frame.grams, net=frame.net, tare_g=frame.tare_g)

    return SerialReader(
        device_id=cfg.id, kind=cfg.kind, settings=PortSettings.of(cfg), parser=make_parser(cfg),
        to_reading=to_reading, sink=sink, health_sink=health_sink,
        silent_after_s=cfg.silent_after_s, backoff=Backoff(cfg.reconnect_s, cfg.reconnect_max_s), now=now,
    ).start()
