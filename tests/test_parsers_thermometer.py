"""Thermometer parsers: known frames, checks and plausibility."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from drivers.thermometer import (
    AsciiLineThermometerParser,
    Gy90615Parser,
    PlausibleRange,
    ThermometerConfig,
    ThermoSample,
    gy_frame,
)

# 36.50 °C object (0x0E42), 25.00 °C ambient (0x09C4); sum of bytes 0-7 = 0x21A → 1A
KNOWN_FRAME = bytes.fromhex("5A5A4504 0E42 09C4 1A".replace(" ", ""))


def test_known_gy_frame_decodes() -> None:
    assert gy_frame(36.5, 25.0) == KNOWN_FRAME
    assert Gy90615Parser().feed(KNOWN_FRAME) == [ThermoSample(36.5, 25.0)]


def test_gy_bad_checksum_and_wrong_type_are_counted_and_skipped() -> None:
    parser = Gy90615Parser()
    bad_sum = KNOWN_FRAME[:8] + b"\x00"
    other_type = gy_frame(36.5, 25.0, frame_type=0x15)
    assert parser.feed(bad_sum + other_type + KNOWN_FRAME) == [ThermoSample(36.5, 25.0)]
    assert parser.bad_frames == 1  # one run of undecodable bytes


def test_gy_header_split_across_reads_and_doubled_5a() -> None:
    parser = Gy90615Parser()
    assert parser.feed(b"\x5a") == []
    assert parser.feed(KNOWN_FRAME[:1]) == []  # 5A 5A 5A: one of them is noise
    assert parser.feed(KNOWN_FRAME[1:]) == [ThermoSample(36.5, 25.0)]


def test_gy_implausible_value_is_a_bad_frame() -> None:
    parser = Gy90615Parser(PlausibleRange(-40, 125))
    assert parser.feed(gy_frame(300.0, 25.0)) == []
    assert parser.bad_frames >= 1


def test_gy_negative_ambient() -> None:
    assert Gy90615Parser().feed(gy_frame(20.0, -5.5)) == [ThermoSample(20.0, -5.5)]


@pytest.mark.parametrize(("line", "expected"), [
    (b"36.5\r\n", 36.5), (b" 36.5 C\n", 36.5), (b"T=36.7\r", 36.7), (b"temp: 37\n", 37.0),
    (b"98.6F\r\n", 37.0), (b"36.5\xb0C\r\n", 36.5),
])
def test_ascii_default_pattern(line: bytes, expected: float) -> None:
    assert AsciiLineThermometerParser().feed(line) == [ThermoSample(expected)]


def test_ascii_rejects_noise_and_implausible() -> None:
    parser = AsciiLineThermometerParser(plausible=PlausibleRange(0, 60))
    assert parser.feed(b"hello\r\n999.9\r\n-10\r\n36.6\r\n") == [ThermoSample(36.6)]
    assert parser.bad_frames == 3


def test_ascii_custom_pattern_with_ambient() -> None:
    parser = AsciiLineThermometerParser(r"OBJ=(?P<object>[\d.]+);AMB=(?P<ambient>[\d.]+)")
    assert parser.feed(b"OBJ=36.40;AMB=24.10\n") == [ThermoSample(36.4, 24.1)]


def test_config_defaults_per_protocol_and_pattern_check() -> None:
    gy = ThermometerConfig(id="t", port="/dev/ttyUSB0")
    assert (gy.protocol, gy.baudrate, gy.silent_after_s) == ("gy90615", 9600, 5.0)
    ascii_ = ThermometerConfig(id="t", port="/dev/ttyUSB0", protocol="ascii_line")
    assert ascii_.silent_after_s == 0.0
    assert ThermometerConfig(id="t", port="x", protocol="ascii_line", silent_after_s=3).silent_after_s == 3
    with pytest.raises(ValidationError):
        ThermometerConfig(id="t", port="x", pattern=r"(\d+)")
    with pytest.raises(ValidationError):
        ThermometerConfig(id="t", port="x", baud=9600)
