"""Station cameras: for each camera a station names, where its photos come from.

* A camera the vision worker decodes (``cameras:``, vision running): its newest frame
  (``CameraFeed.latest``), JPEG-encoded when a record asks; no second connection. A
  feed with no frame, or none for ``photos.max_age_s``, has no photo to give.
* Any other declared camera (only in ``video.cameras``, whose FFmpeg copies the stream
  without decoding it, or an analysed one while vision is off): one FFmpeg grab per
  record (``agent.video.grab``), off the workflow's thread, within ``photos.grab_timeout_s``.
  A camera whose recorder has lost it (``source_lost``) is down: no grab is tried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from agent.config.stations import PhotosConfig
from agent.config_file.model import AgentConfig
from agent.core.photos import Grab, PhotoUnavailable, Snapshot, StationCamera
from agent.core.recorder import Photo
from agent.core.timeutil import Now
from agent.view import CameraFeed

log = logging.getLogger("agent.wiring.photos")

RecorderState = Callable[[], str]  # a video recorder's FFmpeg state (agent.video.ffmpeg)
LOST = "source_lost"


def station_cameras(config: AgentConfig, feeds: Mapping[str, CameraFeed], now: Now,
                    recorders: Mapping[str, RecorderState] | None = None) -> dict[str, StationCamera]:
    """Camera id -> its StationCamera, for every camera a station names. ``feeds``: the
    cameras vision decodes; ``recorders``: the states of the cameras the video ring records."""
    cfg = config.photos
    recorders = recorders or {}
    urls = {c.id: c.url for c in config.video.cameras} | {c.id: c.url for c in config.cameras}
    cameras: dict[str, StationCamera] = {}
    for camera_id in sorted({s.camera for s in config.stations if s.camera is not None}):
        feed = feeds.get(camera_id)
        grab = (feed_grab(feed, cfg) if feed is not None
                else ffmpeg_grab(urls[camera_id], cfg, now, recorders.get(camera_id)))
        cameras[camera_id] = StationCamera(camera_id, grab, wait_s=cfg.wait_ms / 1000)
        log.info("station camera ready camera=%s source=%s", camera_id, "vision" if feed is not None else "grab")
    return cameras


def feed_grab(feed: CameraFeed, cfg: PhotosConfig) -> Grab:
    def grab() -> Snapshot:
        frame = feed.latest()
        silent = feed.silent_for()
        if frame is None or (silent > cfg.max_age_s and feed.state != "ok"):
            raise PhotoUnavailable("camera_down", f"state {feed.state}")
        if silent > cfg.max_age_s:
            raise PhotoUnavailable("stale_frame", f"newest frame {silent:.1f} s old")
        from agent.vision.camera import shrink  # loaded already: a feed means vision runs
        from agent.vision.evidence import encode_jpeg

        jpeg = encode_jpeg(shrink(frame.image, cfg.max_side), cfg.jpeg_quality)
        return Snapshot(Photo(jpeg, "image/jpeg", ".jpg"), frame.at)

    return grab


def ffmpeg_grab(url: str, cfg: PhotosConfig, now: Now, recorder: RecorderState | None = None) -> Grab:
    def grab() -> Snapshot:
        from agent.video.grab import GrabError, grab_jpeg

        if recorder is not None and recorder() == LOST:
            raise PhotoUnavailable("camera_down", "its recorder has lost the camera")
        try:
            jpeg = grab_jpeg(url, timeout_s=cfg.grab_timeout_s, max_side=cfg.max_side, jpeg_quality=cfg.jpeg_quality)
        except FileNotFoundError as exc:  # no ffmpeg on this box
            raise PhotoUnavailable("grab_failed", str(exc)) from None
        except GrabError as exc:
            raise PhotoUnavailable("camera_down", str(exc)) from None
        return Snapshot(Photo(jpeg, "image/jpeg", ".jpg"), now())

    return grab
