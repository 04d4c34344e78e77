"""Bounded decoding of what the platform sends down (acks, commands and their args).

Whatever arrives on ``<root>/ack`` or ``<root>/cmd`` comes from the network: it is
size-checked and its nesting depth is counted by a cheap scan *before* ``json.loads``
sees it, so a deeply nested payload can never reach the recursive decoder (a
``RecursionError`` there used to kill the uplink before its PUBACK, and the broker
redelivered the same payload at every reconnect). A bad payload raises
``InboundError`` with a reason; the caller logs it, answers where an answer is due,
and lets the MQTT acknowledgement go out so it is not redelivered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

ACK_MAX_BYTES = 256 * 1024  # a platform ack batch of a few thousand ids
COMMAND_MAX_BYTES = 1024 * 1024  # a roster or a config patch; the broker's max_packet_size
MAX_DEPTH = 32  # the deepest legitimate command (set_config of a Modbus device) is ~10

# The scan jumps from one structural byte to the next and over whole strings, so it is
# linear in the payload (a regex for "a string or a bracket" backtracks quadratically on
# unterminated strings).
_STRUCTURAL = re.compile(rb'["\[\]{}]')
_STRING_REST = re.compile(rb'(?:[^"\\]++|\\.)*+"', re.DOTALL)  # possessive: never backtracks
_ID_VALUE = re.compile(rb'\s*:\s*("(?:[^"\\]|\\.){1,128}")', re.DOTALL)


def _tokens(payload: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(start, end, token) for each bracket and each complete string, in order; stops at
    an unterminated string (the decoder refuses the payload anyway)."""
    pos = 0
    while (found := _STRUCTURAL.search(payload, pos)) is not None:
        start = found.start()
        if payload[start] == 0x22:  # a string: skip to its closing quote
            rest = _STRING_REST.match(payload, start + 1)
            if rest is None:
                return
            pos = rest.end()
        else:
            pos = start + 1
        yield start, pos, payload[start:pos]


class InboundError(ValueError):
    """A payload refused before or while decoding; ``str()`` is the reason."""


def nesting_depth(payload: bytes, limit: int) -> int:
    """The deepest nesting of arrays/objects, scanning no further than ``limit`` + 1."""
    depth = deepest = 0
    for _start, _end, token in _tokens(payload):
        if token in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


def decode_json(payload: bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` for untrusted bytes: size and depth checked first; InboundError."""
    if len(payload) > max_bytes:
        raise InboundError(f"too large: {len(payload)} bytes (limit {max_bytes})")
    if nesting_depth(payload, max_depth) > max_depth:
        raise InboundError(f"nested deeper than {max_depth} levels")
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise InboundError(f"not JSON: {exc}") from None
    except RecursionError:  # unreachable after the depth scan; never let it escape
        raise InboundError("nested too deeply") from None


def decode_ack(payload: bytes) -> list[str]:
    """The ids of ``{"ids": [...]}``; non-string entries are skipped."""
    body = decode_json(payload, max_bytes=ACK_MAX_BYTES, max_depth=4)
    if not isinstance(body, dict) or not isinstance(body.get("ids"), list):
        raise InboundError('not an ack: expected {"ids": [...]}')
    return [i for i in body["ids"] if isinstance(i, str)]


def top_level_id(payload: bytes) -> str | None:
    """Best effort: the ``"id"`` string of the outermost object of a payload that cannot
    be decoded, so even a refused command can be answered under its id."""
    depth = 0
    head = payload[:COMMAND_MAX_BYTES]
    for _start, end, token in _tokens(head):
        if token in (b"[", b"{"):
            depth += 1
        elif token in (b"]", b"}"):
            depth -= 1
        elif depth == 1 and token == b'"id"':
            value = _ID_VALUE.match(head, end)
            if value is None:
                continue  # "id" as a value, not a key
            try:
                found = json.loads(value.group(1))
            except ValueError:
                return None
            return found if isinstance(found, str) else None
    return None
