"""A package being fetched: a sparse file plus the list of chunks it holds, both on disk,
so a flaky link, a broker restart or an agent restart costs only the chunks in flight.
And the byte budget that paces fetching so an update never drains a 4G data plan at once
or crowds out the records."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from agent.fsutil import write_atomically


class PartialDownload:
    def __init__(self, directory: Path, sha256: str, size: int, chunk_size: int) -> None:
        if chunk_size <= 0 or size <= 0:
            raise ValueError("size and chunk size must be positive")
        self.directory = directory
        self.size, self.chunk_size = size, chunk_size
        self.count = max(1, -(-size // chunk_size))
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{sha256}.part"
        self._have_path = directory / f"{sha256}.have"
        self._lock = threading.Lock()
        self._have = self._load()
        self._dirty = 0
        with open(self.path, "ab") as fh:  # create; never truncate what is there
            if fh.tell() > size:
                fh.truncate(size)

    def _load(self) -> set[int]:
        try:
            raw = json.loads(self._have_path.read_text())
            if raw.get("size") == self.size and raw.get("chunk_size") == self.chunk_size:
                return {int(n) for n in raw["chunks"] if 0 <= int(n) < self.count}
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return set()

    def chunk_length(self, n: int) -> int:
        return min(self.chunk_size, self.size - n * self.chunk_size)

    def missing(self) -> list[int]:
        with self._lock:
            return [n for n in range(self.count) if n not in self._have]

    def have(self) -> int:
        with self._lock:
            return len(self._have)

    def complete(self) -> bool:
        with self._lock:
            return len(self._have) == self.count

    def write_chunk(self, n: int, data: bytes) -> bool:
        """Store chunk ``n``; False (and nothing written) for a chunk of the wrong length
        or number. The list of chunks held is saved every few chunks and at the end."""
        if not 0 <= n < self.count or len(data) != self.chunk_length(n):
            return False
        with self._lock:
            if n in self._have:
                return True
            fd = os.open(self.path, os.O_WRONLY)
            try:
                os.pwrite(fd, data, n * self.chunk_size)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._have.add(n)
            self._dirty += 1
            if self._dirty >= 16 or len(self._have) == self.count:
                self._save()
        return True

    def write_range(self, offset: int, data: bytes) -> None:
        """Bytes at ``offset`` from a stream (HTTPS): whole chunks they complete count."""
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY)
            try:
                os.pwrite(fd, data, offset)
                os.fsync(fd)
            finally:
                os.close(fd)
            end = offset + len(data)
            first = -(-offset // self.chunk_size)
            for n in range(first, self.count):
                if n * self.chunk_size + self.chunk_length(n) > end:
                    break
                self._have.add(n)
            self._save()

    def contiguous_bytes(self) -> int:
        """Bytes held from the start without a hole (where an HTTPS range resumes)."""
        with self._lock:
            n = 0
            while n in self._have:
                n += 1
            return min(self.size, n * self.chunk_size)

    def save(self) -> None:
        with self._lock:
            self._save()

    def _save(self) -> None:
        body = {"size": self.size, "chunk_size": self.chunk_size, "chunks": sorted(self._have)}
        write_atomically(self._have_path, json.dumps(body).encode())
        self._dirty = 0

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with open(self.path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
        self._have_path.unlink(missing_ok=True)
        with self._lock:
            self._have.clear()


class ByteBudget:
    """A token bucket of ``per_min`` bytes a minute (one minute's worth at most banked)."""

    def __init__(self, per_min: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_min / 60.0
        self.capacity = float(per_min)
        self.tokens = float(per_min)
        self.monotonic = monotonic
        self.last = monotonic()
        self.spent = 0

    def _refill(self) -> None:
        now = self.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now

    def take(self, amount: int) -> float:
        """Spend ``amount`` if the budget allows (0.0), else the seconds to wait first."""
        self._refill()
        if self.tokens >= min(amount, self.capacity):
            self.tokens -= amount
            self.spent += amount
            return 0.0
        return (min(amount, self.capacity) - self.tokens) / self.rate
