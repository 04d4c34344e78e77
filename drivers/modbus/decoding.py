"""Pure register <-> value conversion and read planning for device profiles.

No I/O here: the bus scheduler and the simulator both use these functions, so the
driver and the emulated devices can never disagree about a register map.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymodbus.client.mixin import ModbusClientMixin

from .profiles import BIT_FUNCTIONS, DeviceProfile, PointSpec

_DATATYPE = ModbusClientMixin.DATATYPE
_PYMODBUS_TYPES: dict[str, ModbusClientMixin.DATATYPE] = {
    "int16": _DATATYPE.INT16,
    "uint16": _DATATYPE.UINT16,
    "int32": _DATATYPE.INT32,
    "uint32": _DATATYPE.UINT32,
    "float32": _DATATYPE.FLOAT32,
}

# Real devices often answer "illegal address" for unmapped registers, so blocks only
# merge points that are contiguous; a profile with gaps costs one request per run.
MAX_BLOCK_REGISTERS = 125
MAX_BLOCK_BITS = 2000


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request: a function, a start address, a count, and the points inside."""

    function: str
    address: int
    count: int
    points: tuple[PointSpec, ...]

    @property
    def is_bits(self) -> bool:
        return self.function in BIT_FUNCTIONS


def plan_reads(profile: DeviceProfile) -> list[ReadBlock]:
    """Group a profile's points into as few contiguous read requests as possible."""
    blocks: list[ReadBlock] = []
    by_function: dict[str, list[PointSpec]] = {}
    for point in profile.points:
        by_function.setdefault(point.function, []).append(point)
    for function, points in by_function.items():
        limit = MAX_BLOCK_BITS if function in BIT_FUNCTIONS else MAX_BLOCK_REGISTERS
        current: list[PointSpec] = []
        for point in sorted(points, key=lambda p: p.address):
            if current and _fits(current, point, limit):
                current.append(point)
                continue
            if current:
                blocks.append(_block(function, current))
            current = [point]
        blocks.append(_block(function, current))
    return blocks


def _end(points: list[PointSpec]) -> int:
    return max(p.address + p.register_count for p in points)


def _fits(current: list[PointSpec], point: PointSpec, limit: int) -> bool:
    start = current[0].address
    contiguous = point.address <= _end(current)
    return contiguous and point.address + point.register_count - start <= limit


def _block(function: str, points: list[PointSpec]) -> ReadBlock:
    start = points[0].address
    return ReadBlock(function, start, _end(points) - start, tuple(points))


def decode_point(point: PointSpec, words: list[int] | list[bool]) -> float:
    """Turn the raw words (or bits) of one point into its scaled engineering value."""
    if point.data_type == "bool":
        raw: float = 1.0 if words[0] else 0.0
    else:
        raw = ModbusClientMixin.convert_from_registers(
            [int(w) for w in words], _PYMODBUS_TYPES[point.data_type], point.word_order
        )  # type: ignore[assignment]
    return round(raw * point.scale + point.offset, 6)


def decode_block(block: ReadBlock, words: list[int] | list[bool]) -> dict[str, float]:
    """Values of every point in ``block`` from the words read at ``block.address``.

    Bit responses are padded to whole bytes by the protocol; extra bits are ignored.
    """
    if len(words) < block.count:
        raise ValueError(f"short read: {len(words)} < {block.count} at {block.address}")
    values: dict[str, float] = {}
    for point in block.points:
        first = point.address - block.address
        values[point.name] = decode_point(point, words[first : first + point.register_count])
    return values


def encode_point(point: PointSpec, value: float) -> list[int]:
    """Inverse of ``decode_point`` for registers (used by the simulator and tests)."""
    if point.data_type == "bool":
        return [1 if value else 0]
    raw = (value - point.offset) / point.scale
    if point.data_type != "float32":
        raw = int(round(raw))
    return ModbusClientMixin.convert_to_registers(
        raw, _PYMODBUS_TYPES[point.data_type], point.word_order
    )
