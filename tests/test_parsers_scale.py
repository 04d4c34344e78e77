"""Scale parsers on known frames, unit normalisation, and the stability filter."""

from __future__ import annotations

import pytest

from drivers.scale import (
    AdAsciiParser,
    IndicatorAsciiParser,
    MettlerContinuousParser,
    ScaleConfig,
    ScaleFrame,
    StabilityFilter,
    YaohuaA9Parser,
    mettler_checksum,
    yaohua_check,
)


@pytest.mark.parametrize(("line", "expected"), [
    (b"ST,+00123.45  g\r\n", ScaleFrame(123.45, stable=True)),
    (b"US,+00123.40  g\r\n", ScaleFrame(123.4, stable=False)),
    (b"ST,-00001.50  g\r\n", ScaleFrame(-1.5, stable=True)),
    (b"ST,+0001.234 kg\r\n", ScaleFrame(1234.0, stable=True)),
    (b"ST,+00002.00 lb\r\n", ScaleFrame(907.18474, stable=True)),
    (b"ST,+00010.00 oz\r\n", ScaleFrame(283.495231, stable=True)),
    (b"OL,+9999999E+19\r\n", ScaleFrame(None, stable=False, overload=True)),
    (b"QT,+0000012 PC\r\n", ScaleFrame(None, stable=True)),
    (b"ST,+00012.00 PC\r\n", ScaleFrame(None, stable=True)),  # counting unit: no grams
])
def test_ad_lines(line: bytes, expected: ScaleFrame) -> None:
    assert AdAsciiParser().feed(line) == [expected]


def test_ad_garbage_lines_counted() -> None:
    parser = AdAsciiParser()
    assert parser.feed(b"ST,+abc g\r\nhello\r\nST,+00001.00  g\r\n") == [ScaleFrame(1.0, stable=True)]
    assert parser.bad_frames == 2


@pytest.mark.parametrize(("line", "expected"), [
    (b"ST,GS,+  4.876kg\r\n", ScaleFrame(4876.0, stable=True)),
    (b"US,GS,+  4.870kg\r\n", ScaleFrame(4870.0, stable=False)),
    (b"ST,NT,-  0.010kg\r\n", ScaleFrame(-10.0, stable=True, net=True)),
    (b"ST,GS,+  131.0 g\r\n", ScaleFrame(131.0, stable=True)),
    (b"OL,GS,+ ------kg\r\n", ScaleFrame(None, stable=False, overload=True)),
])
def test_indicator_lines(line: bytes, expected: ScaleFrame) -> None:
    assert IndicatorAsciiParser().feed(line) == [expected]


def _mettler(swa: int, swb: int, weight: bytes, tare: bytes, checksum: bool = False) -> bytes:
    body = bytes([0x02, swa, swb, 0x20]) + weight + tare + b"\r"
    return body + (bytes([mettler_checksum(body)]) if checksum else b"")


def test_mettler_known_frames() -> None:
    # SWA 0x2D: bits 0-2 = 5 → XXX.XXX; SWB 0x30: kg, gross, stable, positive
    frame = _mettler(0x2D, 0x30, b"000131", b"000000")
    assert MettlerContinuousParser().feed(frame) == [ScaleFrame(131.0, stable=True, tare_g=0.0)]
    # net, negative, in motion, kg, tare 0.250 kg
    frame = _mettler(0x2D, 0x20 | 0x10 | 0x08 | 0x02 | 0x01, b"000012", b"000250")
    assert MettlerContinuousParser().feed(frame) == [ScaleFrame(-12.0, stable=False, net=True, tare_g=250.0)]
    # pounds, SWA 0x2A: bits 0-2 = 2 → no decimals; overload flag
    frame = _mettler(0x2A, 0x20 | 0x04, b"000002", b"000000")
    assert MettlerContinuousParser().feed(frame) == [
        ScaleFrame(907.18474, stable=True, overload=True, tare_g=0.0)]
    # SWA 0x28: code 0 → ×100
    frame = _mettler(0x28, 0x30, b"000003", b"000000")
    assert MettlerContinuousParser().feed(frame)[0].grams == 300_000.0


def test_mettler_parity_bit_masked_and_checksum_checked() -> None:
    frame = _mettler(0x2D, 0x30, b"000131", b"000000", checksum=True)
    with_parity = bytes(b | 0x80 for b in frame)
    parser = MettlerContinuousParser(checksum=True)
    assert parser.feed(with_parity) == [ScaleFrame(131.0, stable=True, tare_g=0.0)]
    corrupted = frame[:-1] + bytes([(frame[-1] + 1) & 0x7F])
    assert parser.feed(corrupted) == []
    assert parser.bad_frames >= 1
    assert (sum(frame[:-1]) + frame[-1]) & 0x7F == 0  # the checksum's definition


def test_yaohua_known_frame_and_check() -> None:
    # payload "+0012342": XOR = 0x1D → check characters "1" "D"
    assert yaohua_check(b"+0012342") == b"1D"
    frame = b"\x02+00123421D\x03"
    parser = YaohuaA9Parser("kg", settle_frames=3)
    frames = parser.feed(frame * 3)
    assert [f.stable for f in frames] == [False, False, True]
    assert frames[-1].grams == 12340.0
    assert parser.feed(b"\x02+00123421E\x03") == []  # wrong check
    assert parser.bad_frames == 1
    # 2B ^ 30 (seven 30h: an odd count) = 1B: the low nibble B is sent as 0Bh + 37h = "B"
    assert yaohua_check(b"+0000000") == b"1B"


def test_yaohua_changing_value_is_unstable() -> None:
    parser = YaohuaA9Parser("g", settle_frames=2)
    a, b = b"\x02+0001000", b"\x02+0002000"
    frames = parser.feed(a + yaohua_check(a[1:]) + b"\x03" + b + yaohua_check(b[1:]) + b"\x03")
    assert [f.stable for f in frames] == [False, False]


def test_stability_filter_one_emission_per_placement() -> None:
    f = StabilityFilter(change_g=5.0, zero_g=2.0)
    seq = [(60.0, False), (140.0, False), (131.0, True), (131.0, True), (131.4, True),  # one placement
           (260.0, False), (262.0, True), (262.0, True),  # second item added on top
           (0.5, False), (131.0, False), (131.0, True),  # removed (passes ~zero) and placed again
           (None, True)]
    out = [g for g, stable in seq if f.accept(ScaleFrame(g, stable))]
    assert out == [131.0, 262.0, 131.0]


def test_stability_filter_overload_and_zero() -> None:
    f = StabilityFilter(emit_zero=True)
    assert not f.accept(ScaleFrame(None, stable=False, overload=True))
    assert not f.accept(ScaleFrame(0.0, stable=True))  # starting empty is not news
    assert f.accept(ScaleFrame(50.0, stable=True))
    assert f.accept(ScaleFrame(0.1, stable=True))
    assert not f.accept(ScaleFrame(0.0, stable=True))


def test_scale_config_defaults_per_protocol() -> None:
    assert (ScaleConfig(id="s", port="p").bytesize, ScaleConfig(id="s", port="p").parity) == (7, "E")
    mt = ScaleConfig(id="s", port="p", protocol="mettler_continuous")
    assert (mt.baudrate, mt.bytesize, mt.parity) == (9600, 7, "E")
    yh = ScaleConfig(id="s", port="p", protocol="yaohua_a9", bytesize=7)
    assert (yh.bytesize, yh.parity) == (7, "N")


# -- the weighing range: what a working scale can show ------------------------------------------

def _range_parser(**cfg: object) -> object:
    from drivers.scale import make_parser
    return make_parser(ScaleConfig(id="s", port="/dev/null", **cfg))  # type: ignore[arg-type]


def test_absurd_weight_is_a_device_error_not_a_sample() -> None:
    parser = _range_parser()  # ad_ascii: 60 kg bench scale by default
    frames = parser.feed(b"ST,+9999.00 kg\r\nST,+00131.00  g\r\n")  # type: ignore[attr-defined]
    assert frames == [ScaleFrame(131.0, stable=True)]
    assert parser.bad_frames == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(("protocol", "capacity_g"), [
    ("ad_ascii", 60_000.0), ("indicator_ascii", 300_000.0),
    ("mettler_continuous", 300_000.0), ("yaohua_a9", 3_000_000.0),
])
def test_capacity_defaults_per_protocol_and_override(protocol: str, capacity_g: float) -> None:
    assert ScaleConfig(id="s", port="/dev/null", protocol=protocol).capacity_g == capacity_g  # type: ignore[arg-type]
    cfg = ScaleConfig(id="s", port="/dev/null", protocol=protocol, capacity_g=6000)  # type: ignore[arg-type]
    assert cfg.capacity_g == 6000 and cfg.zero_tolerance() == 120


def test_below_zero_beyond_tolerance_rejected_within_tolerance_kept() -> None:
    parser = _range_parser(capacity_g=6000, zero_tolerance_g=10)
    frames = parser.feed(b"ST,-00009.50  g\r\nST,-00010.50  g\r\n"  # type: ignore[attr-defined]
                         b"ST,+06000.00  g\r\nST,+06000.10  g\r\nOL,+9999999E+19\r\n")
    assert [f.grams for f in frames] == [-9.5, 6000.0, None]  # overload carries no grams: passes
    assert parser.bad_frames == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("bad", [{"capacity_g": 0}, {"capacity_g": float("inf")}, {"zero_tolerance_g": -1}])
def test_capacity_config_bounds(bad: dict) -> None:
    from pydantic import ValidationError
    with pytest.raises(ValidationError):
        ScaleConfig(id="s", port="/dev/null", **bad)
