"""Run a component (anything with ``run(stop: threading.Event)``) in a thread for a test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def running(component: Any, join_s: float = 15.0) -> Iterator[threading.Event]:
    """Start ``component.run(stop)`` in a daemon thread; on exit set ``stop`` and check
    that the component returned within ``join_s`` (a component must honour its stop)."""
    stop = threading.Event()
    thread = threading.Thread(target=component.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(join_s)
        assert not thread.is_alive(), f"{type(component).__name__}.run did not stop"
