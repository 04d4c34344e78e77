"""Badge readers: card numbers from a serial line or from a keyboard-style (HID) reader.

Card numbers are normalised per config so the same card reads the same everywhere:

``as_printed``  as the reader prints it (hex letters upper-cased, leading zeros kept)
``decimal10``   10-digit zero-padded decimal (the number printed on most EM/Mifare cards);
                hex input is converted (``input_base``)
``hex8``        8-digit upper-case hex
``wiegand26``   ``FFF,CCCCC`` facility and card number: from a converter's printed
                ``123,45678``, from 26 bits ``0/1`` (parities checked), or from the
                24-bit number (facility in the high byte)

Card numbers are personal data: logs only ever show a masked form (``mask_card``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import Field

from drivers.backoff import Backoff
from drivers.hid_keyboard import HidLineReader, KeySequenceDecoder
from drivers.line_buffer import LineParser
from drivers.readings import BadgeScan, HealthSink, ReadingSink, mask_card
from drivers.serial_port import (
    Now,
    PortSettings,
    SerialDeviceSettings,
    SerialReader,
    local_now,
)

log = logging.getLogger(__name__)

CardFormat = Literal["as_printed", "decimal10", "hex8", "wiegand26"]
InputBase = Literal["auto", "decimal", "hex"]

# a card token at the end of a line, not glued to other hex digits (noise before it is skipped)
_CARD_TOKEN = re.compile(r"(?<![0-9A-Fa-f,])(?P<card>[01]{26}|\d{1,3},\d{1,5}|[0-9A-Fa-f]{4,24})\s*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def wiegand26_bits(bits: str) -> tuple[int, int] | None:
    """26 bits → (facility, card), or None when a parity bit is wrong.

    Bit 0 is even parity over bits 1-12, bit 25 odd parity over bits 13-24.
    """
    if len(bits) != 26 or set(bits) - {"0", "1"}:
        return None
    if bits[:13].count("1") % 2 != 0 or bits[13:].count("1") % 2 != 1:
        return None
    return int(bits[1:9], 2), int(bits[9:25], 2)


def wiegand26_encode(facility: int, card: int) -> str:
    """(facility, card) → the 26-bit string a converter would see (for tests and the simulator)."""
    data = f"{facility:08b}{card:016b}"
    even = "1" if data[:12].count("1") % 2 else "0"
    odd = "0" if data[12:].count("1") % 2 else "1"
    return even + data + odd


class CardNormaliser:
    def __init__(self, card_format: CardFormat = "as_printed", input_base: InputBase = "auto") -> None:
        self.card_format = card_format
        self.input_base = input_base

    def __call__(self, raw: str) -> str | None:
        """The normalised card number, or None when ``raw`` is not a valid card in this format."""
        text = _CONTROL.sub("", raw).strip()
        if not text:
            return None
        if self.card_format == "wiegand26":
            return self._wiegand(text)
        if "," in text or not re.fullmatch(r"[0-9A-Fa-f]+", text):
            return None
        if self.card_format == "as_printed":
            return text.upper()
        value = self._number(text)
        if value is None:
            return None
        if self.card_format == "decimal10":
            return f"{value:010d}" if value < 10**10 else None
        return f"{value:08X}" if value < 16**8 else None

    def _number(self, text: str) -> int | None:
        base = self.input_base
        if base == "auto":
            base = "hex" if re.search(r"[A-Fa-f]", text) else "decimal"
        try:
            return int(text, 16 if base == "hex" else 10)
        except ValueError:
            return None

    def _wiegand(self, text: str) -> str | None:
        if "," in text:
            facility_s, _, card_s = text.partition(",")
            if not (facility_s.isdigit() and card_s.isdigit()):
                return None
            facility, card = int(facility_s), int(card_s)
        elif len(text) == 26 and set(text) <= {"0", "1"}:
            decoded = wiegand26_bits(text)
            if decoded is None:
                return None
            facility, card = decoded
        else:
            value = self._number(text)
            if value is None or value >= 1 << 24:
                return None
            facility, card = value >> 16, value & 0xFFFF
        if facility > 0xFF or card > 0xFFFF:
            return None
        return f"{facility:03d},{card:05d}"


@dataclass(frozen=True, slots=True)
class Card:
    card: str
    raw: str


class SerialBadgeParser(LineParser[Card]):
    """One card a line; a line without a valid card token is a bad frame."""

    def __init__(self, normalise: CardNormaliser | None = None, max_line: int = 64) -> None:
        self.normalise = normalise or CardNormaliser()
        super().__init__(max_line)

    def decode_line(self, line: bytes) -> Card | None:
        text = _CONTROL.sub("", line.decode("latin-1"))
        m = _CARD_TOKEN.search(text)
        if m is None:
            return None
        card = self.normalise(m["card"])
        return Card(card, m["card"]) if card is not None else None


class BadgeReaderConfig(SerialDeviceSettings):
    """A badge (RFID / IC card) reader: a serial line reader or a keyboard-style USB reader."""

    protocol_defaults = {
        "serial_line": {"baudrate": 9600, "silent_after_s": 0.0},
        "hid": {"silent_after_s": 0.0},
    }

    kind: Literal["badge_reader"] = "badge_reader"
    protocol: Literal["serial_line", "hid"] = Field("hid", description="serial_line: card number per line on a serial port; hid: keyboard-style reader (port is /dev/input/by-id/...-event-kbd).")
    card_format: CardFormat = Field("as_printed", description="How card numbers are normalised: as_printed, decimal10, hex8 or wiegand26.")
    input_base: InputBase = Field("auto", description="How the reader prints numbers: decimal, hex, or auto (hex when A-F appear).")
    grab: bool = Field(True, description="hid: grab the input device so card numbers are not typed into other programs.")
    key_gap_s: float = Field(1.0, gt=0, description="hid: a longer pause between keys drops the partial card number.")


def open_badge_reader(cfg: BadgeReaderConfig, sink: ReadingSink, health_sink: HealthSink,
                      now: Now = local_now) -> SerialReader[Card] | HidLineReader:
    """Start reading badges; returns the running reader (``stop()`` it)."""
    normalise = CardNormaliser(cfg.card_format, cfg.input_base)
    backoff = Backoff(cfg.reconnect_s, cfg.reconnect_max_s)

    def scan(card: str, raw: str, at: datetime) -> BadgeScan:
        log.info("badge scan device=%s card=%s", cfg.id, mask_card(card))
        return BadgeScan(device_id=cfg.id, at=at, card=card, raw=raw)

    if cfg.protocol == "hid":
        def from_line(line: str, at: datetime) -> BadgeScan | None:
            card = normalise(line)
            if card is None:
                log.warning("badge rejected device=%s raw=%s", cfg.id, mask_card(line))
                return None
            return scan(card, line, at)

        return HidLineReader(
            device_id=cfg.id, kind=cfg.kind, path=cfg.port, to_reading=from_line, sink=sink,
            health_sink=health_sink, decoder=KeySequenceDecoder(gap_s=cfg.key_gap_s),
            backoff=backoff, now=now, grab=cfg.grab,
        ).start()

    return SerialReader(
        device_id=cfg.id, kind=cfg.kind, settings=PortSettings.of(cfg),
        parser=SerialBadgeParser(normalise), to_reading=lambda c, at: scan(c.card, c.raw, at),
        sink=sink, health_sink=health_sink, silent_after_s=cfg.silent_after_s,
        backoff=backoff, now=now,
    ).start()
