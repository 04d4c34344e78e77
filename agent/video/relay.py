"""Stream relay: a camera's own stream copied to the platform's media server.

``StreamRelay`` is a component (``run(stop)``) that owns every relay: the continuous
ones the config lists (started with it, never ending) and the ones ``start_stream``
asks for (ending after their duration or on ``stop_stream``). Each relay is one
supervised FFmpeg child (``-c copy``: H.264 / H.265 as the camera sends it, never
decoded) in its own thread, reconnecting with back-off when the camera or the target
drops it. At most ``max_streams`` relays run at once; one more is refused, not queued.

RTMP targets get FLV (H.264; FLV has no H.265 in this FFmpeg: use an RTSP target for
H.265 cameras), RTSP targets get RTSP over TCP. Audio is never relayed (kitchen
cameras' microphones are not part of 明厨亮灶 and would carry conversations).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count

from agent.redact import redact_text
from agent.video.ffmpeg import ENDED, STOPPED, STREAMING, FfmpegJob, input_args
from agent.video.targets import host_port, target_kind
from drivers.backoff import Backoff

log = logging.getLogger("agent.video.relay")


class RelayRefused(Exception):
    """A relay that cannot be started (cap reached, unknown camera); the message says why."""


def relay_args(source_url: str, target_url: str, io_timeout_s: float, seconds: float | None) -> list[str]:
    args = [*input_args(source_url, io_timeout_s), "-map", "0:v:0", "-c", "copy", "-an"]
    if seconds is not None:
        args += ["-t", f"{max(1.0, seconds):.1f}"]  # FFmpeg ends on time by itself, cleanly
    if target_kind(target_url) == "rtsp":
        return [*args, "-f", "rtsp", "-rtsp_transport", "tcp", target_url]
    return [*args, "-f", "flv", target_url]


@dataclass
class Relay:
    stream_id: str
    camera: str
    target: str
    continuous: bool
    job: FfmpegJob
    thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return not self.job.halted and self.job.state not in (ENDED, STOPPED)

    def snapshot(self) -> dict[str, object]:
        return {"stream_id": self.stream_id, "camera_id": self.camera, "target": redact_text(self.target),
                "continuous": self.continuous, **self.job.snapshot()}


class StreamRelay:
    name = "video-relay"

    def __init__(self, sources: dict[str, str], *, max_streams: int, io_timeout_s: float,
                 backoff: Callable[[], Backoff], stall_s: float,
                 continuous: dict[str, str] | None = None) -> None:
        self.sources = sources  # camera id -> its stream URL
        self.max_streams = max_streams
        self.io_timeout_s = io_timeout_s
        self.stall_s = stall_s
        self._backoff = backoff
        self._continuous = continuous or {}
        self._relays: dict[str, Relay] = {}
        self._lock = threading.Lock()
        self._ids = count(1)
        self._stop = threading.Event()
        self.finished: list[dict[str, object]] = []  # the last ended relays, for the status
        # a relay whose camera or target stays away ends this long after its duration
        self.give_up_after_s = 60.0

    # --- component -------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        self._stop = stop
        for camera, target in self._continuous.items():
            if not any(r.continuous and r.camera == camera for r in self._relays.values()):
                self.start(camera, target, None, continuous=True)
        while not stop.wait(1.0):
            self._reap()
        self.stop_all()

    # --- control ----------------------------------------------------------------------------

    def start(self, camera: str, target: str, seconds: float | None, *, continuous: bool = False) -> Relay:
        """Start a relay, or extend the running one of this camera to this target."""
        if camera not in self.sources:
            raise RelayRefused(f"unknown video camera {camera!r} (known: {', '.join(sorted(self.sources)) or 'none'})")
        with self._lock:
            self._reap_locked()
            same = next((r for r in self._relays.values()
                         if r.active and r.camera == camera and r.target == target), None)
            if same is not None:
                self._set_duration(same.job, seconds, already_sent=True)
                log.info("video.relay.extended stream=%s seconds=%s", same.stream_id, seconds)
                return same
            running = [r for r in self._relays.values() if r.active]
            if len(running) >= self.max_streams:
                busy = ", ".join(f"{r.stream_id} ({r.camera})" for r in running)
                raise RelayRefused(f"stream cap reached: {len(running)} of {self.max_streams} "
                                   f"relays running ({busy}); stop one first")
            relay = self._make(camera, target, seconds, continuous)
            self._relays[relay.stream_id] = relay
        relay.thread = threading.Thread(target=self._run_relay, args=(relay,), name=relay.job.name, daemon=True)
        relay.thread.start()
        log.info("video.relay.started stream=%s camera=%s target=%s seconds=%s", relay.stream_id, camera,
                 redact_text(target), seconds)
        return relay

    def _make(self, camera: str, target: str, seconds: float | None, continuous: bool) -> Relay:
        stream_id = f"{camera}-{next(self._ids)}"
        source = self.sources[camera]

        def build_args() -> list[str]:  # asked again at every reconnect: the remaining time shrinks
            return relay_args(source, target, self.io_timeout_s, job.remaining_media_s())

        job = FfmpegJob(f"video-relay-{stream_id}", build_args, target_hint=host_port(target),
                        backoff=self._backoff(), stall_s=self.stall_s)
        self._set_duration(job, seconds)
        return Relay(stream_id, camera, target, continuous, job)

    def _set_duration(self, job: FfmpegJob, seconds: float | None, already_sent: bool = False) -> None:
        """``seconds`` of video from now; the relay gives up trying after that plus a grace."""
        if seconds is None:
            job.media_s = job.deadline_mono = None
            return
        sent = (job.media_done_s + job.progress.out_time_s) if already_sent else 0.0
        job.media_s = sent + seconds
        job.deadline_mono = time.monotonic() + seconds + self.give_up_after_s

    def _run_relay(self, relay: Relay) -> None:
        try:
            relay.job.run(self._stop)
        except Exception:  # one relay's bug must not take the others down
            log.exception("video.relay.crashed stream=%s", relay.stream_id)
            relay.job.state = STOPPED

    def stop(self, stream_id: str | None = None, camera: str | None = None) -> list[str]:
        """Stop relays by id or by camera; the ids being stopped."""
        with self._lock:
            chosen = [r for r in self._relays.values() if r.active
                      if (stream_id is not None and r.stream_id == stream_id)
                      or (camera is not None and stream_id is None and r.camera == camera)]
        for relay in chosen:
            relay.job.stop_job()  # FFmpeg ends within a few seconds; the command does not wait
        return [r.stream_id for r in chosen]

    def stop_all(self) -> None:
        with self._lock:
            relays = list(self._relays.values())
        for relay in relays:
            relay.job.stop_job()
        for relay in relays:
            if relay.thread is not None:
                relay.thread.join(10)
        self._reap()

    def _reap(self) -> None:
        with self._lock:
            self._reap_locked()

    def _reap_locked(self) -> None:
        for stream_id, relay in list(self._relays.items()):
            if relay.thread is not None and not relay.thread.is_alive():
                del self._relays[stream_id]
                self.finished = [*self.finished[-9:], relay.snapshot()]

    # --- status ---------------------------------------------------------------------------

    def get(self, stream_id: str) -> Relay | None:
        return self._relays.get(stream_id)

    def snapshot(self) -> list[dict[str, object]]:
        with self._lock:
            return [r.snapshot() for r in self._relays.values()]

    def bitrate_kbps(self) -> float:
        with self._lock:
            rates = [r.job.progress.bitrate_bps or 0.0 for r in self._relays.values() if r.job.state == STREAMING]
        return round(sum(rates) / 1000, 1)
