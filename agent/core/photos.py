"""Photos on station records: a station's camera asked for the picture of a record's moment.

A station that names a camera (``stations[].camera``) gets a ``StationCamera``. When it
writes a record it calls ``take()``, which runs the camera's grab off the workflow's
thread and waits at most ``photos.wait_ms`` for it:

* the photo came in time: the record is committed with it, in one transaction
  (``Recorder.record_with_photo``: media role ``photo``, ``photo.state = attached``);
* the grab said there is no picture (the camera is down, its newest frame is older than
  ``photos.max_age_s``, the grab failed): the record is committed without one,
  ``photo.state = unavailable`` with the ``reason``;
* the grab is still running (a camera read once per record, e.g. over RTSP): the record is
  committed now, ``photo.state = pending``, and the photo follows as a media object linked
  to the record's id once the grab returns (``Shot.follow``), or a log line says it failed.

So a photo never delays a record beyond the wait, and a camera never loses one. What a
grab is comes from the wiring (``agent.wiring.photos``): the newest frame of a camera the
vision worker already decodes, or one FFmpeg grab of a camera nobody else decodes.
Log lines name the station, the camera and the record, never what the record says.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime

from agent.core.recorder import Photo
from agent.records.envelope import PhotoNote, PhotoReason

log = logging.getLogger("agent.photos")

GRAB_THREADS = 4  # grabs of every station camera share these (a hung one-shot grab blocks only itself)


class PhotoUnavailable(Exception):
    """The camera has no picture to give (``reason`` goes on the record)."""

    def __init__(self, reason: PhotoReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: PhotoReason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Snapshot:
    photo: Photo
    taken_at: datetime  # when the camera saw it


Grab = Callable[[], Snapshot]  # raises PhotoUnavailable


@dataclass(frozen=True, slots=True)
class Shot:
    """What ``take`` got: the photo for the record, or why not, or a grab still running."""

    note: PhotoNote
    photo: Photo | None = None
    detail: str = ""  # unavailable: what the grab said (no credentials), for the log line
    _late: Future[Snapshot] | None = None

    def follow(self, attach: Callable[[Photo], object], record_id: str) -> None:
        """Pending only: once the grab returns, ``attach`` its photo to the committed record."""
        late = self._late
        if late is None:
            return
        camera = self.note.camera_id

        def done(future: Future[Snapshot]) -> None:
            try:
                attach(future.result().photo)
                log.info("station photo followed camera=%s record=%s", camera, record_id)
            except PhotoUnavailable as exc:
                log.warning("station photo not taken camera=%s record=%s reason=%s", camera, record_id, exc.reason)
            except Exception as exc:  # noqa: BLE001 - a late photo must never take a thread down
                log.error("station photo not stored camera=%s record=%s error=%s", camera, record_id, exc)

        late.add_done_callback(done)


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _grab_threads() -> ThreadPoolExecutor:
    """One small pool for the whole process (agents come and go in tests and the demo)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(GRAB_THREADS, thread_name_prefix="station-photo")
        return _executor


class StationCamera:
    def __init__(self, camera_id: str, grab: Grab, *, wait_s: float) -> None:
        self.camera_id = camera_id
        self.grab = grab
        self.wait_s = wait_s

    def take(self) -> Shot:
        """The photo of this moment, within ``wait_s`` (never raises)."""
        future = _grab_threads().submit(self.grab)
        try:
            snapshot = future.result(timeout=self.wait_s)
        except FutureTimeout:
            return Shot(PhotoNote(camera_id=self.camera_id, state="pending"), _late=future)
        except PhotoUnavailable as exc:
            return self._unavailable(exc.reason, exc.detail)
        except Exception as exc:  # noqa: BLE001 - a broken grab costs the photo, never the record
            return self._unavailable("grab_failed", str(exc))
        taken_at = snapshot.taken_at if snapshot.taken_at.tzinfo is not None else None  # the wire wants offsets
        return Shot(PhotoNote(camera_id=self.camera_id, state="attached", taken_at=taken_at), snapshot.photo)

    def _unavailable(self, reason: PhotoReason, detail: str) -> Shot:
        return Shot(PhotoNote(camera_id=self.camera_id, state="unavailable", reason=reason), detail=detail)
