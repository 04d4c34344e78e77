"""One camera's frames: open, decode in its own thread, reconnect, cap the analysis rate.

``CameraSource.run(stop)`` owns a ``cv2.VideoCapture`` (RTSP and HTTP MJPEG through
FFmpeg with open/read time-outs, USB through V4L2, video files looping if asked). It
grabs every frame the camera sends (a live stream must be drained or it lags), but
converts (retrieves) only the frames somebody needs:

  * the frames due for analysis at ``analyse_fps`` go to a one-slot hand-off; if the
    analysis has not taken the previous one yet it is replaced and counted as dropped;
  * frames at ``clip_fps``, shrunk to ``clip_max_side``, go to a ring buffer that holds
    the evidence clips' pre- and post-roll;
  * the latest retrieved frame is kept for snapshots and live view.

Times: ``Frame.t`` is seconds on the source's own timeline (monotonic time for live
sources and paced files; the position in the file for unpaced replay, so a 30 s test
video takes as long as its analysis, not 30 s) and ``Frame.at`` the wall time for records.
A source that cannot be opened or stops delivering is reopened with exponential back-off.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import cv2
import numpy as np

from agent.config.devices import CameraConfig
from agent.redact import redact_url
from drivers.backoff import Backoff

log = logging.getLogger("agent.vision.camera")

# FFmpeg over RTSP: TCP survives lossy Wi-Fi without smeared frames. Set once, before any
# capture opens, unless the operator chose otherwise.
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")

OPEN_TIMEOUT_MS = 5000
READ_TIMEOUT_MS = 5000
DEFAULT_FILE_FPS = 10.0


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # BGR, full resolution
    t: float  # seconds on the source's timeline
    at: datetime  # wall time for records
    seq: int  # frame number since the source started


@dataclass
class CameraCounters:
    frames_read: int = 0  # grabbed from the camera
    frames_due: int = 0  # handed to analysis (after the rate cap)
    frames_dropped: int = 0  # due but replaced before the analysis took them
    frames_analysed: int = 0  # counted by the analysis
    reconnects: int = 0
    decode_s: float = 0.0  # in grab/retrieve; on live sources this includes waiting for the network
    opened_at: float | None = None
    last_frame_mono: float | None = None  # monotonic time of the last good frame

    def as_dict(self) -> dict[str, float | int | None]:
        return {"frames_read": self.frames_read, "frames_due": self.frames_due,
                "frames_dropped": self.frames_dropped, "frames_analysed": self.frames_analysed,
                "reconnects": self.reconnects, "decode_s": round(self.decode_s, 3)}


class FrameRing:
    """Recent shrunk frames at a fixed rate, for clips with pre- and post-roll.

    Frames are kept JPEG-encoded (about 40 KB instead of 0.9 MB raw at 640x480): a camera's
    pre-roll costs a few MB instead of tens. Encoding is paid once per ring frame (a few ms
    at ``clip_fps``); decoding only when a clip is cut.
    """

    def __init__(self, seconds: float, fps: float, max_side: int, jpeg_quality: int = 85) -> None:
        self.period = 1.0 / fps
        self.max_side = max_side
        self.jpeg_quality = jpeg_quality
        self._frames: deque[tuple[float, datetime, bytes]] = deque(
            maxlen=max(2, int(seconds * fps) + 2))
        self._lock = threading.Lock()
        self._next_t: float | None = None

    def due(self, t: float) -> bool:
        return self._next_t is None or t >= self._next_t

    def add(self, t: float, at: datetime, image: np.ndarray) -> None:
        small = shrink(image, self.max_side)
        ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            log.warning("vision.ring.encode_failed shape=%s", small.shape)
            return
        with self._lock:
            self._frames.append((t, at, data.tobytes()))
            # keep the grid of due times, but never fall behind after a gap
            base = self._next_t if self._next_t is not None and t - self._next_t < self.period else t
            self._next_t = base + self.period

    def between(self, t0: float, t1: float) -> list[tuple[float, datetime, np.ndarray]]:
        """The frames in [t0, t1], decoded (BGR)."""
        with self._lock:
            chosen = [f for f in self._frames if t0 <= f[0] <= t1]
        frames = []
        for t, at, data in chosen:
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if image is not None:
                frames.append((t, at, image))
        return frames

    def stored_bytes(self) -> int:
        with self._lock:
            return sum(len(f[2]) for f in self._frames)

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            self._next_t = None


def shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    longest = max(image.shape[:2])
    if longest <= max_side:
        return image
    scale = max_side / longest
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def source_kind(url: str) -> str:
    if re.match(r"^(rtsp|rtsps|rtmp)://", url):
        return "rtsp"
    if re.match(r"^https?://", url):
        return "http"
    if re.match(r"^(/dev/video\d+|\d+)$", url):
        return "usb"
    return "file"


def open_capture(url: str) -> cv2.VideoCapture:
    kind = source_kind(url)
    if kind in ("rtsp", "http"):
        return cv2.VideoCapture(url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS,
                                                      cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS])
    if kind == "usb":
        index = int(re.sub(r"\D", "", url))
        return cv2.VideoCapture(index, cv2.CAP_V4L2)
    return cv2.VideoCapture(url)


class SourceError(RuntimeError):
    """The camera could not be opened or stopped delivering."""


@dataclass
class CameraSource:
    """A camera's decode thread (a ``run(stop)`` like a component) and its outputs."""

    cfg: CameraConfig
    now: Callable[[], datetime]
    clip_fps: float = 4.0
    clip_max_side: int = 640
    buffer_s: float = 8.0
    realtime: bool | None = None  # None: files unpaced only when the caller says so (False)
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    on_state: Callable[[str, str], None] | None = None  # (state, detail)
    counters: CameraCounters = field(default_factory=CameraCounters)

    def __post_init__(self) -> None:
        self.kind = source_kind(self.cfg.url)
        self.paced = self.realtime is not False
        self.ring = FrameRing(self.buffer_s, self.clip_fps, self.clip_max_side)
        self.state = "starting"
        self._slot: Frame | None = None
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._next_due: float | None = None
        self._seq = 0
        self._loop_offset = 0.0
        self._base_at: datetime | None = None
        self._started = time.monotonic()
        self.ended = threading.Event()  # an unlooped file reached its end

    # --- consumer side -----------------------------------------------------------------

    def get(self, timeout: float) -> Frame | None:
        """The next frame due for analysis, or None after ``timeout`` seconds."""
        with self._cond:
            if self._slot is None:
                self._cond.wait(timeout)
            frame, self._slot = self._slot, None
            self._cond.notify_all()  # an unpaced reader waits for the slot to empty
            return frame

    def latest(self) -> Frame | None:
        """The newest converted frame (snapshots, live view)."""
        return self._latest

    def silent_for(self) -> float:
        """Seconds since the last good frame (since start when none came yet)."""
        last = self.counters.last_frame_mono or self.counters.opened_at or self._started
        return time.monotonic() - last

    # --- decode thread -------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        self._started = time.monotonic()
        backoff = Backoff(self.reconnect_min_s, self.reconnect_max_s)
        failures = 0
        while not stop.is_set():
            cap = open_capture(self.cfg.url)
            if not cap.isOpened():
                cap.release()
                self._set_state("disconnected", f"cannot open {self._redacted()}")
                stop.wait(backoff.delay(failures))
                failures += 1
                continue
            self.counters.opened_at = time.monotonic()
            log.info("vision.camera.opened camera=%s kind=%s", self.cfg.id, self.kind)
            delivered = self._read_until_failure(cap, stop)
            cap.release()
            if self.ended.is_set() or stop.is_set():
                break
            self.counters.reconnects += 1
            if delivered:
                failures = 0  # it worked for a while: retry quickly
            self._set_state("disconnected", "stream ended or failed")
            stop.wait(backoff.delay(failures))
            failures += 1
        with self._cond:
            self._cond.notify_all()

    def _read_until_failure(self, cap: cv2.VideoCapture, stop: threading.Event) -> int:
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        period = 1.0 / fps if self.kind == "file" and 0 < fps <= 120 else 1.0 / DEFAULT_FILE_FPS
        next_play = time.monotonic()
        delivered = 0
        last_pos = 0.0
        while not stop.is_set():
            started = time.perf_counter()
            if not cap.grab():
                if self.kind == "file" and delivered and self.cfg.loop:
                    self._loop_offset += last_pos + period
                    cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    continue
                if self.kind == "file" and delivered:
                    log.info("vision.camera.file_ended camera=%s frames=%d", self.cfg.id, delivered)
                    self.ended.set()
                return delivered
            if self.kind == "file":
                last_pos = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            t, at = self._times(last_pos)
            self.counters.frames_read += 1
            self.counters.last_frame_mono = time.monotonic()
            if self.state != "ok":
                self._set_state("ok", "frames arriving")
            self._offer(cap, t, at, started, stop)
            delivered += 1
            if self.kind == "file" and self.paced:
                next_play += period
                delay = next_play - time.monotonic()
                if delay > 0:
                    stop.wait(delay)
                else:
                    next_play = time.monotonic()
        return delivered

    def _times(self, file_pos: float) -> tuple[float, datetime]:
        if self.kind == "file" and not self.paced:
            if self._base_at is None:
                self._base_at = self.now()
            t = self._loop_offset + file_pos
            return t, self._base_at + timedelta(seconds=t)
        return time.monotonic(), self.now()

    def _offer(self, cap: cv2.VideoCapture, t: float, at: datetime, started: float,
               stop: threading.Event) -> None:
        due = self._next_due is None or t >= self._next_due
        if not (due or self.ring.due(t)):
            self.counters.decode_s += time.perf_counter() - started
            return
        ok, image = cap.retrieve()
        self.counters.decode_s += time.perf_counter() - started
        if not ok or image is None:
            return
        self._seq += 1
        frame = Frame(image, t, at, self._seq)
        self._latest = frame
        if self.ring.due(t):
            self.ring.add(t, at, image)
        if due:
            period = 1.0 / self.cfg.analyse_fps
            base = self._next_due if self._next_due is not None and t - self._next_due < period else t
            self._next_due = base + period
            self._hand_off(frame, stop)

    def _hand_off(self, frame: Frame, stop: threading.Event) -> None:
        with self._cond:
            if not self.paced:  # replay: wait for the analysis instead of dropping
                while self._slot is not None and not stop.is_set():
                    self._cond.wait(0.1)
            elif self._slot is not None:
                self.counters.frames_dropped += 1
            self._slot = frame
            self.counters.frames_due += 1
            self._cond.notify_all()

    def _set_state(self, state: str, detail: str) -> None:
        if state == self.state:
            return
        self.state = state
        log.log(logging.INFO if state == "ok" else logging.WARNING,
                "vision.camera.state camera=%s state=%s detail=%s", self.cfg.id, state, detail)
        if self.on_state is not None:
            self.on_state(state, detail)

    def _redacted(self) -> str:
        """The URL without credentials (rtsp://user:pass@host)."""
        return redact_url(self.cfg.url)
