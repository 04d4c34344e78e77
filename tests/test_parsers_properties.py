"""Property tests run against EVERY incremental parser of the serial drivers.

For each parser the table gives: a strategy of valid frames (bytes + the value the parser
must decode), and a noise alphabet holding no byte a valid frame needs (so noise drawn
from it *cannot* form a frame, which keeps "noise yields nothing" sound), plus the suffix
noise needs to end as a bad line for line formats whose pattern is anchored at the start.

Properties:
- arbitrary bytes, fed in arbitrary chunks, never raise (nothing asserted on output);
- noise from the alphabet never yields a frame, and is counted as bad;
- valid frames split at arbitrary points decode exactly once, in order;
- noise between valid frames loses none of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import astuple, dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.badge import Card, CardNormaliser, SerialBadgeParser
from drivers.barcode import TextLineParser
from drivers.scale import (
    AdAsciiParser,
    IndicatorAsciiParser,
    MettlerContinuousParser,
    ScaleFrame,
    YaohuaA9Parser,
    mettler_frame,
    to_grams,
    yaohua_frame,
)
from drivers.thermometer import AsciiLineThermometerParser, Gy90615Parser, ThermoSample, gy_frame

Frame = tuple[bytes, Any]


@dataclass(frozen=True)
class ParserCase:
    name: str
    make: Callable[[], Any]
    frames: st.SearchStrategy[Frame]
    noise_alphabet: bytes
    noise_suffix: bytes = b""


# -- valid frame strategies -------------------------------------------------------------------

centi = st.integers(-4000, 12500)  # the GY plausible range, in hundredths of a degree


@st.composite
def gy_frames(draw) -> Frame:
    obj, amb = draw(centi), draw(centi)
    return gy_frame(obj / 100, amb / 100), ThermoSample(obj / 100, amb / 100)


@st.composite
def ascii_thermo_frames(draw) -> Frame:
    tenths = draw(st.integers(-400, 1250))
    end = draw(st.sampled_from([b"\r\n", b"\n", b"\r"]))
    return f"{tenths / 10:.1f}".encode() + end, ThermoSample(tenths / 10, None)


units = st.sampled_from(["g", "kg", "lb", "oz"])


@st.composite
def ad_frames(draw) -> Frame:
    head = draw(st.sampled_from(["ST", "US"]))
    hundredths = draw(st.integers(-9_999_999, 9_999_999))
    unit = draw(units)
    value = hundredths / 100
    line = f"{head},{'-' if hundredths < 0 else '+'}{abs(value):08.2f}{unit:>3}\r\n"
    return line.encode(), ScaleFrame(to_grams(value, unit), stable=head == "ST")


@st.composite
def indicator_frames(draw) -> Frame:
    head = draw(st.sampled_from(["ST", "US"]))
    mode = draw(st.sampled_from(["GS", "NT"]))
    thousandths = draw(st.integers(-999_999, 999_999))
    unit = draw(units)
    value = thousandths / 1000
    line = f"{head},{mode},{'-' if thousandths < 0 else '+'}{abs(value):>8.3f}{unit}\r\n"
    return line.encode(), ScaleFrame(to_grams(value, unit), stable=head == "ST", net=mode == "NT")


def _with_parity(data: bytes, parity: bool) -> bytes:
    return bytes(b | (0x80 if parity and bin(b).count("1") % 2 else 0) for b in data)


def mettler_frames(checksum: bool) -> st.SearchStrategy[Frame]:
    @st.composite
    def build(draw) -> Frame:
        decimals = draw(st.integers(0, 5))
        weight, tare = draw(st.integers(0, 999_999)), draw(st.integers(0, 999_999))
        negative, motion, net = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
        unit = draw(st.sampled_from(["kg", "lb"]))
        value = weight / 10**decimals * (-1 if negative else 1)
        raw = mettler_frame(value, decimals=decimals, unit=unit, motion=motion, net=net,
                            tare=tare / 10**decimals, checksum=checksum)
        if negative and weight == 0:
            value = 0.0  # a "negative zero" frame has the sign bit clear
        expected = ScaleFrame(to_grams(value, unit), stable=not motion, net=net,
                              tare_g=to_grams(tare / 10**decimals, unit))
        return _with_parity(raw, draw(st.booleans())), expected
    return build()


@st.composite
def yaohua_frames(draw) -> Frame:
    decimals = draw(st.integers(0, 4))
    digits = draw(st.integers(-999_999, 999_999))
    value = digits / 10**decimals
    return yaohua_frame(value, decimals), ScaleFrame(to_grams(value, "kg"), stable=True)


@st.composite
def badge_frames(draw) -> Frame:
    card = draw(st.text("0123456789ABCDEF", min_size=4, max_size=20))
    wrapped = draw(st.booleans())
    body = (b"\x02" + card.encode() + b"\x03") if wrapped else card.encode()
    return body + b"\r\n", Card(card, card)


@st.composite
def text_frames(draw) -> Frame:
    text = draw(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40))
    return text.encode() + b"\n", text


def _without(*excluded: int) -> bytes:
    return bytes(b for b in range(256) if b not in excluded)


HEX_AND_COMMA = b"0123456789ABCDEFabcdef,"
CASES = [
    ParserCase("gy90615", Gy90615Parser, gy_frames(), _without(0x5A)),
    # the ASCII pattern is anchored at the line start: noise arrives as a bad line
    ParserCase("ascii_thermo", AsciiLineThermometerParser, ascii_thermo_frames(),
               _without(*b"0123456789"), b"\r\n"),
    # the ad/indicator header is searched for: noise may run straight into the next frame
    ParserCase("ad_ascii", AdAsciiParser, ad_frames(), _without(ord(","))),
    ParserCase("indicator_ascii", IndicatorAsciiParser, indicator_frames(), _without(ord(","))),
    ParserCase("mettler", MettlerContinuousParser, mettler_frames(False), _without(0x02, 0x82)),
    ParserCase("mettler_checksum", lambda: MettlerContinuousParser(checksum=True), mettler_frames(True),
               _without(0x02, 0x82)),
    ParserCase("yaohua_a9", lambda: YaohuaA9Parser("kg", settle_frames=1), yaohua_frames(), _without(0x02)),
    ParserCase("badge_serial", lambda: SerialBadgeParser(CardNormaliser("as_printed")), badge_frames(),
               _without(*HEX_AND_COMMA)),
    ParserCase("barcode_serial", TextLineParser, text_frames(), bytes(range(0x80, 0x100)), b"\n"),
]
IDS = [c.name for c in CASES]


def same(decoded: list[Any], expected: list[Any]) -> bool:
    """Equality, with floats compared to 1e-9 relative (unit conversions multiply)."""
    if len(decoded) != len(expected):
        return False
    for a, b in zip(decoded, expected, strict=True):
        if isinstance(a, str | Card) or isinstance(b, str | Card):
            if a != b:
                return False
            continue
        for x, y in zip(astuple(a), astuple(b), strict=True):
            if isinstance(x, float) and isinstance(y, float):
                if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9):
                    return False
            elif x != y:
                return False
    return True


def feed_split(parser: Any, data: bytes, cuts: list[int]) -> list[Any]:
    out: list[Any] = []
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for start, end in zip(points, points[1:], strict=False):
        out += parser.feed(data[start:end])
    return out


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("case", CASES, ids=IDS)
@PROPERTY
@given(data=st.data())
def test_arbitrary_bytes_never_raise(case: ParserCase, data: st.DataObject) -> None:
    parser = case.make()
    chunks = data.draw(st.lists(st.binary(max_size=64), max_size=12))
    for chunk in chunks:
        parser.feed(chunk)
    assert parser.bad_frames >= 0
    parser.reset()
    parser.feed(b"".join(chunks))


@pytest.mark.parametrize("case", CASES, ids=IDS)
@PROPERTY
@given(data=st.data())
def test_noise_never_yields_a_frame(case: ParserCase, data: st.DataObject) -> None:
    parser = case.make()
    noise = bytes(data.draw(st.lists(st.sampled_from(case.noise_alphabet), min_size=1, max_size=300)))
    cuts = data.draw(st.lists(st.integers(0, 400), max_size=8))
    assert feed_split(parser, noise + case.noise_suffix, cuts) == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
@PROPERTY
@given(data=st.data())
def test_split_frames_decode_exactly_once(case: ParserCase, data: st.DataObject) -> None:
    frames = data.draw(st.lists(case.frames, min_size=1, max_size=6))
    stream = b"".join(raw for raw, _ in frames)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=len(stream)))
    parser = case.make()
    assert same(feed_split(parser, stream, cuts), [value for _, value in frames])
    assert parser.bad_frames == 0


@pytest.mark.parametrize("case", CASES, ids=IDS)
@PROPERTY
@given(data=st.data())
def test_noise_between_frames_loses_none(case: ParserCase, data: st.DataObject) -> None:
    frames = data.draw(st.lists(case.frames, min_size=1, max_size=5))
    noise = st.lists(st.sampled_from(case.noise_alphabet), min_size=1, max_size=40).map(bytes)
    stream = b""
    for raw, _ in frames:
        if data.draw(st.booleans()):
            stream += data.draw(noise) + case.noise_suffix
        stream += raw
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    parser = case.make()
    assert same(feed_split(parser, stream, cuts), [value for _, value in frames])
