"""``StoreReader``: the store opened by another process for reading only (the public side's).

Every query of ``Store`` works (WAL: readers see each committed transaction while the
agent writes); every write fails. Its connections are ``query_only``, so SQLite itself
refuses a write, and it has no writer thread: the agent's process is the store's one writer.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

from agent.store.store import Store


class ReadOnly(PermissionError):
    """A write asked of a ``StoreReader``."""


class _NoWriter:
    def submit(self, _op: Any) -> NoReturn:
        raise ReadOnly("this process reads the store; the agent writes it")

    def close(self) -> None:
        pass


class StoreReader(Store):
    def __init__(self, path: str | os.PathLike[str], media_dir: str | os.PathLike[str] | None = None) -> None:
        # deliberately not Store.__init__: no migration, no writer thread, no write connection
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"no store at {self.path}")
        self.media_dir = Path(media_dir) if media_dir else self.path.parent / "media"
        self.durability = "power_cut"
        self._writer = _NoWriter()  # type: ignore[assignment]
        self._defer_s = 0.0
        self._monotonic = time.monotonic
        self._deferred = []
        self._deferred_kv = {}
        self._deferred_since = None
        self._acked_waiting = set()
        self._deferred_lock = threading.Lock()
        self._local = threading.local()
        self._readers = []
        self._readers_lock = threading.Lock()

    def write(self, op: Any) -> NoReturn:
        raise ReadOnly("this process reads the store; the agent writes it")
