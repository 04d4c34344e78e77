"""The platform's window on a kitchen (明厨亮灶): ``snapshot``, ``start_live``, ``stop_live``.

* ``snapshot {camera_id}``: the camera's newest frame as a JPEG stored as media (role
  ``snapshot``, delivered like any media); the result names the media id.
* ``start_live {camera_id, seconds?, fps?}``: JPEG frames of that camera at a low rate
  (``vision.live_fps`` at most) for a bounded time (``vision.live_max_s`` at most), published
  raw on ``<root>/live/<camera_id>`` at QoS 0 through the uplink (never stored; dropped
  while offline). Asking again extends the session.
* ``stop_live {camera_id}``: ends it early.

``LiveHub`` is a supervised component: one thread paces every live session from the
camera sources' latest frames, so the analysis workers never wait on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.command_contract import CommandError, Handler, parse_args
from agent.config.vision import VisionConfig
from agent.core.recorder import Recorder
from agent.core.timeutil import uuid7
from agent.vision.camera import CameraSource, shrink
from agent.vision.evidence import encode_jpeg

log = logging.getLogger("agent.vision.live")

PublishLive = Callable[[str, bytes], bool]  # (topic suffix, payload) -> queued
SNAPSHOT_MAX_AGE_S = 10.0  # an older latest frame means the camera is not delivering


class CameraArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: str


class LiveArgs(CameraArgs):
    seconds: float = Field(60.0, gt=0)
    fps: float | None = Field(None, gt=0)


@dataclass
class LiveSession:
    camera_id: str
    fps: float
    until: float  # monotonic
    next_at: float = 0.0
    last_seq: int = -1
    sent: int = 0


class LiveHub:
    name = "vision-live"

    def __init__(self, sources: dict[str, CameraSource], vision: VisionConfig, recorder: Recorder,
                 now: Callable[[], datetime], publish: PublishLive | None) -> None:
        self.sources = sources
        self.vision = vision
        self.recorder = recorder  # snapshots are media: stored and queued through the recorder
        self.now = now
        self.publish = publish
        self.sessions: dict[str, LiveSession] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()

    # --- commands ----------------------------------------------------------------------

    def handlers(self) -> dict[str, Handler]:
        return {"snapshot": self.snapshot, "start_live": self.start_live, "stop_live": self.stop_live}

    def snapshot(self, args: dict[str, Any]) -> dict[str, Any]:
        source = self._source(parse_args(CameraArgs, args).camera_id)
        frame = source.latest()
        if frame is None or source.silent_for() > SNAPSHOT_MAX_AGE_S:
            raise CommandError(f"camera {source.cfg.id} has no current picture (state {source.state})")
        jpeg = encode_jpeg(shrink(frame.image, max(self.vision.clip_max_side, 1280)), self.vision.jpeg_quality)
        media_id = uuid7()
        ref = self.recorder.add_media(media_id, jpeg, "image/jpeg", role="snapshot",
                                      created_at=self.now().isoformat(), suffix=".jpg")
        log.info("vision.snapshot camera=%s media=%s bytes=%d", source.cfg.id, media_id, len(jpeg))
        return {"camera_id": source.cfg.id, "taken_at": frame.at.isoformat(), "media": ref}

    def start_live(self, args: dict[str, Any]) -> dict[str, Any]:
        request = parse_args(LiveArgs, args)
        source = self._source(request.camera_id)
        if self.publish is None:
            raise CommandError("live video needs the uplink, which is not configured")
        seconds = min(request.seconds, self.vision.live_max_s)
        fps = min(request.fps or self.vision.live_fps, self.vision.live_fps)
        with self._lock:
            session = self.sessions.get(source.cfg.id)
            until = time.monotonic() + seconds
            if session is None:
                self.sessions[source.cfg.id] = LiveSession(source.cfg.id, fps, until)
            else:
                session.fps, session.until = fps, until
        self._wake.set()
        log.info("vision.live.start camera=%s seconds=%.0f fps=%.2f", source.cfg.id, seconds, fps)
        return {"camera_id": source.cfg.id, "topic": f"live/{source.cfg.id}", "seconds": seconds,
                "fps": fps, "content_type": "image/jpeg"}

    def stop_live(self, args: dict[str, Any]) -> dict[str, Any]:
        camera_id = self._source(parse_args(CameraArgs, args).camera_id).cfg.id
        with self._lock:
            session = self.sessions.pop(camera_id, None)
        log.info("vision.live.stop camera=%s was_live=%s", camera_id, session is not None)
        return {"camera_id": camera_id, "stopped": session is not None,
                "frames_sent": session.sent if session else 0}

    def _source(self, camera_id: str) -> CameraSource:
        source = self.sources.get(camera_id)
        if source is None:
            raise CommandError(f"unknown camera {camera_id!r} (have {sorted(self.sources)})")
        return source

    # --- component -------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            wait = self.step(time.monotonic())
            self._wake.wait(wait)
            self._wake.clear()

    def step(self, now: float) -> float:
        """Send every frame that is due; return how long to sleep."""
        with self._lock:
            sessions = list(self.sessions.values())
        wait = 1.0
        for session in sessions:
            if now >= session.until:
                with self._lock:
                    self.sessions.pop(session.camera_id, None)
                log.info("vision.live.ended camera=%s frames=%d", session.camera_id, session.sent)
                continue
            if now >= session.next_at:
                self._send(session)
                session.next_at = now + 1.0 / session.fps
            wait = min(wait, max(0.01, session.next_at - now))
        return wait

    def _send(self, session: LiveSession) -> None:
        frame = self.sources[session.camera_id].latest()
        if frame is None or frame.seq == session.last_seq or self.publish is None:
            return
        jpeg = encode_jpeg(shrink(frame.image, self.vision.clip_max_side), self.vision.jpeg_quality)
        if self.publish(f"live/{session.camera_id}", jpeg):
            session.sent += 1
            session.last_seq = frame.seq

