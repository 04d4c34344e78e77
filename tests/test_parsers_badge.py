"""Badge and barcode parsing: serial lines, the HID key decoder, card normalisation, Wiegand-26."""

from __future__ import annotations

import pytest
from evdev import ecodes
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.badge import (
    BadgeReaderConfig,
    Card,
    CardNormaliser,
    SerialBadgeParser,
    mask_card,
    wiegand26_bits,
    wiegand26_encode,
)
from drivers.barcode import BarcodeReaderConfig
from drivers.hid_keyboard import KEY_DOWN, KEY_UP, KEYMAP, KeySequenceDecoder

CHAR_TO_KEYS = {}
for code, (plain, shifted) in KEYMAP.items():
    CHAR_TO_KEYS.setdefault(plain, (code, False))
    CHAR_TO_KEYS.setdefault(shifted, (code, True))


def type_line(text: str, t0: float = 0.0, dt: float = 0.002) -> list[tuple[int, int, float]]:
    """The key events a keyboard-style reader sends for ``text`` then Enter."""
    events: list[tuple[int, int, float]] = []
    t = t0
    for ch in text:
        code, shift = CHAR_TO_KEYS[ch]
        if shift:
            events.append((ecodes.KEY_LEFTSHIFT, KEY_DOWN, t))
        events += [(code, KEY_DOWN, t), (code, KEY_UP, t + dt / 2)]
        if shift:
            events.append((ecodes.KEY_LEFTSHIFT, KEY_UP, t + dt / 2))
        t += dt
    return events + [(ecodes.KEY_ENTER, KEY_DOWN, t), (ecodes.KEY_ENTER, KEY_UP, t + dt / 2)]


def decode_all(decoder: KeySequenceDecoder, events) -> list[str]:
    out = []
    for code, value, t in events:
        line = decoder.feed(code, value, t)
        if line is not None:
            out.append(line)
    return out


def test_hid_digits_keep_leading_zeros() -> None:
    assert decode_all(KeySequenceDecoder(), type_line("0004212345")) == ["0004212345"]


def test_hid_hex_letters_and_keypad() -> None:
    events = type_line("00A1B2C3")
    events += [(ecodes.KEY_KP1, KEY_DOWN, 1.0), (ecodes.KEY_KP2, KEY_DOWN, 1.0), (ecodes.KEY_KPENTER, KEY_DOWN, 1.0)]
    assert decode_all(KeySequenceDecoder(), events) == ["00A1B2C3", "12"]


def test_hid_gap_drops_stale_partial_line() -> None:
    events = [(ecodes.KEY_9, KEY_DOWN, 0.0)] + type_line("1234", t0=5.0)
    decoder = KeySequenceDecoder(gap_s=1.0)
    assert decode_all(decoder, events) == ["1234"]
    assert decoder.bad_frames == 1


def test_hid_ignores_repeat_and_unknown_keys_and_bare_enter() -> None:
    events = [(ecodes.KEY_1, 2, 0.0), (ecodes.KEY_F1, KEY_DOWN, 0.0), (ecodes.KEY_ENTER, KEY_DOWN, 0.0)]
    assert decode_all(KeySequenceDecoder(), events) == []


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 600), st.integers(-1, 3), st.floats(0, 100)), max_size=200))
def test_hid_arbitrary_events_never_raise(events) -> None:
    decoder = KeySequenceDecoder(max_len=16)
    for line in decode_all(decoder, sorted(events, key=lambda e: e[2])):
        assert 0 < len(line) <= 16


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(st.sampled_from(sorted(CHAR_TO_KEYS)), min_size=1, max_size=30), max_size=5))
def test_hid_typed_lines_decode_exactly(lines: list[str]) -> None:
    events = []
    for i, line in enumerate(lines):
        events += type_line(line, t0=i * 0.5)
    assert decode_all(KeySequenceDecoder(), events) == lines


@pytest.mark.parametrize(("fmt", "base", "raw", "card"), [
    ("as_printed", "auto", "0004212345", "0004212345"),
    ("as_printed", "auto", "00a1b2c3", "00A1B2C3"),
    ("decimal10", "auto", "4212345", "0004212345"),
    ("decimal10", "auto", "00A1B2C3", "0010597059"),
    ("decimal10", "hex", "00404679", "0004212345"),
    ("decimal10", "decimal", "00A1B2C3", None),
    ("decimal10", "decimal", "12345678901", None),  # more than 10 digits
    ("hex8", "decimal", "0004212345", "00404679"),
    ("wiegand26", "auto", "123,45678", "123,45678"),
    ("wiegand26", "auto", wiegand26_encode(123, 45678), "123,45678"),
    ("wiegand26", "decimal", str((123 << 16) | 45678), "123,45678"),
    ("wiegand26", "auto", "300,1", None),  # facility is 8 bits
    ("as_printed", "auto", "12,34", None),
    ("as_printed", "auto", "", None),
])
def test_card_normalisation(fmt, base, raw, card) -> None:
    assert CardNormaliser(fmt, base)(raw) == card


def test_wiegand26_parity() -> None:
    bits = wiegand26_encode(1, 1)
    assert wiegand26_bits(bits) == (1, 1)
    flipped = ("1" if bits[0] == "0" else "0") + bits[1:]
    assert wiegand26_bits(flipped) is None
    flipped = bits[:-1] + ("1" if bits[-1] == "0" else "0")
    assert wiegand26_bits(flipped) is None


def test_serial_badge_lines() -> None:
    parser = SerialBadgeParser(CardNormaliser("decimal10"))
    data = b"\x020004212345\x03\r\nID: 4212345\r\nhello\r\n\r\n"
    assert parser.feed(data) == [Card("0004212345", "0004212345"), Card("0004212345", "4212345")]
    assert parser.bad_frames == 1


def test_mask_card() -> None:
    assert mask_card("0004212345") == "******2345"
    assert "4212345" not in mask_card("0004212345")
    assert mask_card("123") == "***"


def test_configs() -> None:
    assert BadgeReaderConfig(id="b", port="/dev/input/event3").protocol == "hid"
    serial = BadgeReaderConfig(id="b", port="/dev/ttyUSB1", protocol="serial_line", card_format="decimal10")
    assert (serial.baudrate, serial.silent_after_s) == (9600, 0.0)
    assert BarcodeReaderConfig(id="c", port="/dev/input/event4").kind == "barcode_reader"
