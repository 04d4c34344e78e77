"""Splitting a byte stream into lines, for the many devices that print one reading a line.

CR, LF or CRLF end a line; empty lines are skipped. A line longer than ``max_len``
cannot be a reading: it is dropped and counted, and bytes are discarded up to the next
line end so the buffer never grows on a stream of noise.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class LineBuffer:
    def __init__(self, max_len: int = 128) -> None:
        self.max_len = max_len
        self.overlong = 0
        self._buf = bytearray()
        self._discarding = False

    def reset(self) -> None:
        self._buf.clear()
        self._discarding = False

    def feed(self, data: bytes) -> list[bytes]:
        lines: list[bytes] = []
        for chunk in _split_keep_ends(data):
            if chunk in (b"\r", b"\n"):
                if not self._discarding and self._buf:
                    lines.append(bytes(self._buf))
                self._buf.clear()
                self._discarding = False
                continue
            if self._discarding:
                continue
            self._buf += chunk
            if len(self._buf) > self.max_len:
                self.overlong += 1
                self._buf.clear()
                self._discarding = True
        return lines


class LineParser(Generic[T]):
    """Base of the parsers for one-reading-a-line devices: a subclass decodes one line
    (``decode_line`` returns None for a line that is not a valid reading), or its text
    (``decode_text``: the line as Latin-1, which any byte decodes to)."""

    def __init__(self, max_line: int) -> None:
        self._lines = LineBuffer(max_line)
        self._bad = 0

    @property
    def bad_frames(self) -> int:
        return self._bad + self._lines.overlong

    def reset(self) -> None:
        self._lines.reset()

    def feed(self, data: bytes) -> list[T]:
        out: list[T] = []
        for line in self._lines.feed(data):
            item = self.decode_line(line)
            if item is None:
                self._bad += 1
            else:
                out.append(item)
        return out

    def decode_line(self, line: bytes) -> T | None:
        return self.decode_text(line.decode("latin-1"))

    def decode_text(self, line: str) -> T | None:
        raise NotImplementedError


def _split_keep_ends(data: bytes) -> list[bytes]:
    """``b"ab\\r\\ncd"`` → ``[b"ab", b"\\r", b"\\n", b"cd"]``."""
    out: list[bytes] = []
    start = 0
    for i, byte in enumerate(data):
        if byte in (0x0A, 0x0D):
            if i > start:
                out.append(data[start:i])
            out.append(data[i:i + 1])
            start = i + 1
    if start < len(data):
        out.append(data[start:])
    return out
