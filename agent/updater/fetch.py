"""Fetching a package: MQTT chunks asked of the platform, or HTTPS ranges.

MQTT (docs/PLATFORM.md §12): the agent asks for chunks on ``<root>/dl/req``
(``{"transfer_id", "chunks": [n, ...]}``, QoS 1) and the platform answers each on
``<root>/dl/<transfer_id>/<n>`` (QoS 1, the raw bytes). The agent keeps a few chunks
asked at a time, within the byte budget, and asks again for any not arrived within
``retry_s`` (a broker restart or a dropped link loses what was in flight, nothing else).
HTTPS: ``Range: bytes=<held>-`` resumes where the file has no hole; the server's
certificate is verified (the system's CAs or ``update.https_ca_file``).
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from agent.updater.transfer import ByteBudget, PartialDownload

log = logging.getLogger("agent.updater")

RequestChunks = Callable[[bytes], bool]  # publish on <root>/dl/req; False while offline


class FetchError(RuntimeError):
    """The package could not be fetched (for now); ``str()`` says why."""


class MqttFetch:
    def __init__(self, partial: PartialDownload, transfer_id: str, request: RequestChunks,
                 budget: ByteBudget, *, window: int = 8, retry_s: float = 10.0) -> None:
        self.partial = partial
        self.transfer_id = transfer_id
        self.request = request
        self.budget = budget
        self.window, self.retry_s = window, retry_s
        self.asked: dict[int, float] = {}  # chunk -> when asked
        self.arrived = threading.Condition()
        self.requests_sent = 0

    def on_chunk(self, n: int, data: bytes) -> None:
        """From the uplink's thread: one chunk arrived."""
        if not self.partial.write_chunk(n, data):
            log.warning("update chunk refused transfer=%s n=%d bytes=%d", self.transfer_id, n, len(data))
        with self.arrived:
            self.asked.pop(n, None)
            self.arrived.notify_all()

    def run(self, stop: threading.Event, progress: Callable[[], None] = lambda: None) -> None:
        """Until every chunk is held (or ``stop``)."""
        while not stop.is_set():
            missing = self.partial.missing()
            if not missing:
                self.partial.save()
                return
            now = time.monotonic()
            with self.arrived:
                for n, at in list(self.asked.items()):
                    if n not in missing or now - at > self.retry_s:
                        del self.asked[n]  # arrived, or lost on the way: ask again
                room = self.window - len(self.asked)
            wanted = [n for n in missing if n not in self.asked][:max(0, room)]
            ask: list[int] = []
            for n in wanted:
                wait = self.budget.take(self.partial.chunk_length(n))
                if wait > 0:
                    stop.wait(min(wait, 1.0))
                    break
                ask.append(n)
            if ask:
                body = json.dumps({"transfer_id": self.transfer_id, "chunks": ask}).encode()
                if self.request(body):
                    self.requests_sent += 1
                    with self.arrived:
                        for n in ask:
                            self.asked[n] = time.monotonic()
                else:
                    stop.wait(1.0)  # offline: the uplink reconnects by itself
            progress()
            with self.arrived:
                self.arrived.wait(0.2)


def https_fetch(partial: PartialDownload, url: str, budget: ByteBudget, stop: threading.Event,
                ca_file: Path | None = None, timeout_s: float = 30.0) -> None:
    """Fetch ``url`` into ``partial`` from its first hole on; FetchError on failure."""
    if not url.startswith("https://"):
        raise FetchError("only https:// URLs are fetched")
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    while not stop.is_set() and not partial.complete():
        offset = partial.contiguous_bytes()
        request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"})
        try:
            with urllib.request.urlopen(request, timeout=timeout_s, context=context) as response:
                if offset and response.status != 206:
                    offset = 0  # the server ignores ranges: start over
                while not stop.is_set():
                    want = partial.chunk_size
                    wait = budget.take(want)
                    if wait > 0:
                        stop.wait(wait)
                        continue
                    data = response.read(want)
                    if not data:
                        break
                    if offset + len(data) > partial.size:
                        raise FetchError(f"the server sent more than the {partial.size} bytes announced")
                    partial.write_range(offset, data)
                    offset += len(data)
        except (urllib.error.URLError, OSError, ssl.SSLError) as exc:
            raise FetchError(f"download from {url.split('?')[0]} failed: {exc}") from None
        if offset < partial.size and not stop.is_set():
            raise FetchError(f"the server closed the download at {offset} of {partial.size} bytes")
