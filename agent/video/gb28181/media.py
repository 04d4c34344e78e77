"""MPEG-PS from GStreamer: the camera's H.264 copied (never decoded) into a program stream.

One ``gst-launch-1.0`` child per source: ``rtspsrc`` (live) or ``filesrc ! qtdemux``
(a playback range cut from the ring) -> ``h264parse`` -> ``mpegpsmux`` (pack headers,
system header and the program stream map GB/T 28181 asks for at each key frame) -> stdout.
The packs read back are handed to every subscriber; a live source is shared by all the
viewers of its camera (one camera connection), and a new viewer starts at a key frame.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from agent.redact import redact_text
from agent.video.gb28181.rtp import PsSplitter

log = logging.getLogger("agent.video.gb28181.media")

READ_BYTES = 65536
PackListener = Callable[[bytes, int, bool], None]  # (pack, 90 kHz timestamp, starts a key frame)
MUX = ["h264parse", "config-interval=-1", "!", "video/x-h264,stream-format=byte-stream,alignment=au", "!",
       "mpegpsmux", "!"]


def gst_binary() -> str:
    found = shutil.which("gst-launch-1.0")
    if not found:
        raise FileNotFoundError("gst-launch-1.0 not found: install GStreamer (Debian/Raspberry Pi OS: sudo apt-get "
                                "install gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)")
    return found


def live_pipeline(url: str, timeout_s: float) -> list[str]:
    # buffer-mode=none: the camera's own RTP timestamps, not smoothed by arrival times (which a busy
    # box would make non-monotonic once rounded to frames)
    return ["rtspsrc", f"location={url}", "protocols=tcp", "latency=0", "buffer-mode=none",
            f"tcp-timeout={int(timeout_s * 1e6)}",
            "!", "rtph264depay", "!", *MUX, "fdsink", "fd=1", "sync=false"]


def file_pipeline(path: Path) -> list[str]:
    """A cut played at its own pace (the sink waits for each pack's time)."""
    return ["filesrc", f"location={path}", "!", "qtdemux", "!", *MUX, "fdsink", "fd=1", "sync=true"]


class PsSource:
    """A GStreamer child whose packs go to the subscribers; ``ended`` once it exits."""

    def __init__(self, name: str, pipeline: list[str], on_end: Callable[[PsSource], None] | None = None) -> None:
        self.name = name
        self.pipeline = pipeline
        self.on_end = on_end
        self._lock = threading.Lock()
        self._subscribers: dict[int, tuple[PackListener, list[bool]]] = {}
        self._next = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self.ended = threading.Event()
        self.error = ""
        self.packs = 0

    def start(self) -> PsSource:
        self._proc = subprocess.Popen([gst_binary(), "-q", *self.pipeline], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        threading.Thread(target=self._read, name=f"gb-ps-{self.name}", daemon=True).start()
        threading.Thread(target=self._read_log, name=f"gb-ps-log-{self.name}", daemon=True).start()
        log.info("gb28181.media.start source=%s pid=%d", self.name, self._proc.pid)
        return self

    def subscribe(self, listener: PackListener) -> int:
        """Packs from the next key frame on go to ``listener``; the id unsubscribes."""
        with self._lock:
            self._next += 1
            self._subscribers[self._next] = (listener, [False])
            return self._next

    def unsubscribe(self, token: int) -> int:
        with self._lock:
            self._subscribers.pop(token, None)
            return len(self._subscribers)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        splitter = PsSplitter()
        try:
            while True:
                chunk = os.read(fd, READ_BYTES)
                if not chunk:
                    break
                for unit, ts, key in splitter.feed(chunk):
                    self._deliver(unit, ts, key)
        finally:
            code = self._proc.wait()
            if code not in (0, None, -signal.SIGTERM):
                self.error = self.error or f"gst-launch exited with {code}"
            log.info("gb28181.media.end source=%s code=%s packs=%d", self.name, code, self.packs)
            self.ended.set()
            if self.on_end is not None:
                self.on_end(self)

    def _deliver(self, pack: bytes, ts: int, key: bool) -> None:
        self.packs += 1
        with self._lock:
            subscribers = list(self._subscribers.items())
        for token, (listener, started) in subscribers:
            if not started[0]:
                if not key:
                    continue
                started[0] = True
            try:
                listener(pack, ts, key)
            except Exception:  # one viewer's failure never reaches the others
                log.exception("gb28181.media.listener_failed source=%s", self.name)
                self.unsubscribe(token)

    def _read_log(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for raw in self._proc.stderr:
            line = redact_text(raw.decode("utf-8", "replace").rstrip())
            if line:
                self.error = line[:300]
                log.warning("gb28181.media.log source=%s line=%s", self.name, line[:300])

    def stop(self, wait_s: float = 3.0) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        self.ended.wait(wait_s)


class LiveSources:
    """One shared live source per camera, started by its first viewer, stopped after its last."""

    def __init__(self, urls: dict[str, str], timeout_s: float) -> None:
        self.urls = urls
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._sources: dict[str, PsSource] = {}

    def subscribe(self, camera: str, listener: PackListener) -> tuple[PsSource, int]:
        with self._lock:
            source = self._sources.get(camera)
            if source is None or source.ended.is_set():
                source = PsSource(f"live-{camera}", live_pipeline(self.urls[camera], self.timeout_s),
                                  on_end=self._forget).start()
                self._sources[camera] = source
            return source, source.subscribe(listener)

    def unsubscribe(self, camera: str, source: PsSource, token: int) -> None:
        with self._lock:
            left = source.unsubscribe(token)
            if left == 0 and self._sources.get(camera) is source:
                del self._sources[camera]
            else:
                return
        source.stop()

    def _forget(self, source: PsSource) -> None:
        with self._lock:
            for camera, known in list(self._sources.items()):
                if known is source:
                    del self._sources[camera]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {camera: s.subscribers for camera, s in self._sources.items()}

    def stop_all(self) -> None:
        with self._lock:
            sources = list(self._sources.values())
            self._sources.clear()
        for source in sources:
            source.stop()
