"""The public live view (明厨亮灶 live): one FFmpeg per camera, shared by its viewers.

A camera the school marks live is opened by FFmpeg only while someone watches it: the
first viewer starts it, the last one to leave stops it. FFmpeg decodes the camera's
stream and writes small JPEGs at a low frame rate (``-f mpjpeg``: each picture with its
length); every viewer is sent the newest picture, so a slow phone skips pictures and
never makes FFmpeg or another viewer wait. Viewers are bounded per camera and in all:
past either bound ``join`` answers None. Whole frames, scaled down, never cropped.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

from agent.redact import redact_text
from agent.video.ffmpeg import ffmpeg_binary, input_args
from drivers.backoff import Backoff

log = logging.getLogger("agent.video.live")
MAX_FRAME = 4 * 1024 * 1024
STOP_GRACE_S = 2.0


@dataclass(frozen=True, slots=True)
class LiveLimits:
    fps: float
    max_side: int
    per_camera: int
    total: int
    quality: int = 70
    timeout_s: float = 10.0


def live_args(url: str, limits: LiveLimits) -> list[str]:
    side = limits.max_side
    fit = f"fps={limits.fps:g},scale='min(iw,{side})':'min(ih,{side})':force_original_aspect_ratio=decrease"
    qscale = max(2, min(31, round((100 - limits.quality) / 4)))
    return [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", *input_args(url, limits.timeout_s),
            "-an", "-vf", fit, "-q:v", str(qscale), "-f", "mpjpeg", "pipe:1"]


def read_part(out: IO[bytes]) -> bytes | None:
    """One JPEG of FFmpeg's ``mpjpeg`` output (a boundary, headers, the picture); None at the end."""
    length = None
    while True:
        line = out.readline(1024)
        if not line:
            return None
        text = line.strip().lower()
        if text.startswith(b"content-length:"):
            length = int(text.split(b":", 1)[1])
        elif not text and length is not None:
            break
    if not 0 < length <= MAX_FRAME:
        return None
    data = out.read(length)
    return data if len(data) == length else None


class LiveFeed:
    """One camera's FFmpeg (restarted with back-off while anyone watches) and its newest picture."""

    def __init__(self, camera: str, url: str, limits: LiveLimits) -> None:
        self.camera, self.url, self.limits = camera, url, limits
        self.seq = 0
        self.jpeg = b""
        self._stop = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"live-{camera}", daemon=True)
        self._thread.start()

    def newest(self, after: int) -> tuple[int, bytes] | None:
        with self._lock:
            return (self.seq, self.jpeg) if self.seq > after else None

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()

    def _run(self) -> None:
        backoff, failures = Backoff(1.0, 10.0), 0
        while not self._stop.is_set():
            started = time.monotonic()
            self._once()
            if time.monotonic() - started > 30:
                failures = 0
            self._stop.wait(backoff.delay(failures))
            failures += 1

    def _once(self) -> None:
        try:
            proc = subprocess.Popen(live_args(self.url, self.limits), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            log.warning("live view camera=%s: ffmpeg did not start: %s", self.camera, exc)
            return
        with self._lock:
            self._proc = proc
        if self._stop.is_set():
            proc.terminate()
        assert proc.stdout is not None and proc.stderr is not None
        log.info("live view started camera=%s pid=%d", self.camera, proc.pid)
        while (part := read_part(proc.stdout)) is not None:
            with self._lock:
                self.seq += 1
                self.jpeg = part
        try:
            proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        last = proc.stderr.read().decode("utf-8", "replace").strip().splitlines()[-1:]
        if not self._stop.is_set():
            log.warning("live view camera=%s ended: exit %s %s", self.camera, proc.returncode,
                        redact_text(last[0])[:200] if last else "")
        else:
            log.info("live view stopped camera=%s (no viewer left)", self.camera)


class Viewer:
    def __init__(self, hub: LiveHub, feed: LiveFeed) -> None:
        self._hub, self.feed = hub, feed
        self._left = False

    def newest(self, after: int) -> tuple[int, bytes] | None:
        return self.feed.newest(after)

    def leave(self) -> None:
        if not self._left:
            self._left = True
            self._hub.left(self.feed.camera)


class LiveHub:
    """The live cameras (id -> URL) and who watches them."""

    def __init__(self, urls: Mapping[str, str], limits: LiveLimits) -> None:
        self.urls = dict(urls)
        self.limits = limits
        self._feeds: dict[str, LiveFeed] = {}
        self._viewers: dict[str, int] = {}
        self._lock = threading.Lock()

    def is_live(self, camera: str) -> bool:
        return camera in self.urls

    def full(self, camera: str) -> str | None:
        """``camera`` or ``all`` when a new viewer would be refused now, else None."""
        with self._lock:
            return self._full(camera)

    def _full(self, camera: str) -> str | None:
        if sum(self._viewers.values()) >= self.limits.total:
            return "all"
        return "camera" if self._viewers.get(camera, 0) >= self.limits.per_camera else None

    def join(self, camera: str) -> Viewer | None:
        """A new viewer of a live camera, or None when there is no room (KeyError: not live)."""
        url = self.urls[camera]
        with self._lock:
            if self._full(camera) is not None:
                return None
            self._viewers[camera] = self._viewers.get(camera, 0) + 1
            feed = self._feeds.get(camera)
            if feed is None:
                feed = self._feeds[camera] = LiveFeed(camera, url, self.limits)
        return Viewer(self, feed)

    def left(self, camera: str) -> None:
        with self._lock:
            self._viewers[camera] -= 1
            if self._viewers[camera] > 0:
                return
            del self._viewers[camera]
            feed = self._feeds.pop(camera, None)
        if feed is not None:
            feed.stop()  # the last viewer left: FFmpeg closes the camera

    def watching(self) -> dict[str, int]:
        with self._lock:
            return dict(self._viewers)

    def running(self) -> list[str]:
        """The cameras whose FFmpeg runs now (for tests and the log)."""
        with self._lock:
            return sorted(self._feeds)

    def close(self) -> None:
        with self._lock:
            feeds, self._feeds, self._viewers = list(self._feeds.values()), {}, {}
        for feed in feeds:
            feed.stop()
