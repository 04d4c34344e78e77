"""Profiles load and validate; register decoding is exact for the real frame formats."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU
from pymodbus.pdu.register_message import ReadInputRegistersRequest

from drivers.modbus.decoding import decode_block, decode_point, encode_point, plan_reads
from drivers.modbus.profiles import (
    DeviceProfile,
    PointSpec,
    ProfileError,
    load_profile_file,
    load_profiles,
)

BUILTIN = {"rs-ws-n01", "xy-md02", "cabinet-pt100", "di-module-4ch"}


def test_builtin_profiles_load() -> None:
    profiles = load_profiles()
    assert BUILTIN <= set(profiles)
    assert profiles["rs-ws-n01"].serial.baudrate == 4800
    assert profiles["xy-md02"].serial.baudrate == 9600


def test_xy_md02_domain_frame_decodes_to_30_5_and_54_6() -> None:
    """Request 01 04 00 01 00 02 20 0B, reply 01 04 04 01 31 02 22 2A CE (docs/DOMAIN.md)."""
    block = plan_reads(load_profiles()["xy-md02"])[0]
    request = ReadInputRegistersRequest(address=block.address, count=block.count, dev_id=1)
    framer = FramerRTU(DecodePDU(False))
    assert framer.buildFrame(request) == bytes.fromhex("01 04 00 01 00 02 20 0B")
    _, reply = framer.handleFrame(bytes.fromhex("01 04 04 01 31 02 22 2A CE"), 1, 0)
    assert decode_block(block, reply.registers) == {"temperature_c": 30.5, "humidity_pct": 54.6}


def test_rs_ws_n01_negative_temperature() -> None:
    block = plan_reads(load_profiles()["rs-ws-n01"])[0]
    assert (block.function, block.address, block.count) == ("holding", 0, 2)
    assert decode_block(block, [712, 0xFF4C]) == {"humidity_pct": 71.2, "temperature_c": -18.0}


def test_digital_inputs_decode_bits_and_ignore_padding() -> None:
    block = plan_reads(load_profiles()["di-module-4ch"])[0]
    bits = [True, False, True, False, False, False, False, False]
    assert decode_block(block, bits) == {"run": 1.0, "run_2": 0.0, "run_3": 1.0, "run_4": 0.0}


@pytest.mark.parametrize(("data_type", "word_order", "words", "expected"), [
    ("int32", "big", [0xFFFF, 0xFFFE], -2.0),
    ("int32", "little", [0xFFFE, 0xFFFF], -2.0),
    ("uint32", "big", [0x0001, 0x0000], 65536.0),
    ("float32", "big", [0x42F6, 0xE979], 123.456),
    ("float32", "little", [0xE979, 0x42F6], 123.456),
])
def test_32_bit_types_and_word_order(data_type: str, word_order: str, words: list[int], expected: float) -> None:
    point = PointSpec(name="v", address=0, function="holding", data_type=data_type, word_order=word_order)
    assert decode_point(point, words) == pytest.approx(expected, rel=1e-6)


def test_scale_and_offset() -> None:
    point = PointSpec(name="t", address=0, function="input", data_type="int16", scale=0.01, offset=-40)
    assert decode_point(point, [6500]) == 25.0


@given(st.integers(-32768, 32767))
def test_int16_roundtrip(raw: int) -> None:
    point = PointSpec(name="t", address=0, function="holding", data_type="int16", scale=0.1)
    assert decode_point(point, encode_point(point, raw / 10)) == pytest.approx(raw / 10)


@given(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from(["big", "little"]))
def test_float32_roundtrip(value: float, order: str) -> None:
    point = PointSpec(name="f", address=0, function="holding", data_type="float32", word_order=order)
    assert decode_point(point, encode_point(point, value)) == pytest.approx(value, rel=1e-6, abs=1e-6)


def test_plan_merges_contiguous_and_splits_gaps() -> None:
    profile = DeviceProfile(id="x", points=[
        PointSpec(name="a", address=0, function="holding", data_type="uint16"),
        PointSpec(name="b", address=1, function="holding", data_type="int32"),
        PointSpec(name="c", address=10, function="holding", data_type="uint16"),
        PointSpec(name="d", address=0, function="input", data_type="uint16"),
    ])
    plan = [(b.function, b.address, b.count) for b in plan_reads(profile)]
    assert plan == [("holding", 0, 3), ("holding", 10, 1), ("input", 0, 1)]


def test_validation_rejects_unknown_fields_and_bad_types(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        PointSpec(name="t", address=0, function="holding", data_type="int16", colour="red")
    with pytest.raises(ValueError):
        PointSpec(name="t", address=0, function="discrete", data_type="int16")
    with pytest.raises(ValueError):
        PointSpec(name="t", address=0, function="holding", data_type="bool")
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\npoints: []\n")
    with pytest.raises(ProfileError):
        load_profile_file(bad)


def test_user_profile_added_without_code(tmp_path: Path) -> None:
    (tmp_path / "sht20-even.yaml").write_text(
        "id: xy-md02-x100\n"
        "description: humidity x100 batch\n"
        "serial: {baudrate: 9600, parity: E}\n"
        "points:\n"
        "  - {name: temperature_c, address: 1, function: input, data_type: int16, scale: 0.1}\n"
        "  - {name: humidity_pct, address: 2, function: input, data_type: uint16, scale: 0.01}\n"
    )
    profiles = load_profiles(tmp_path)
    assert BUILTIN <= set(profiles)
    block = plan_reads(profiles["xy-md02-x100"])[0]
    assert decode_block(block, [305, 5460]) == {"temperature_c": 30.5, "humidity_pct": 54.6}
