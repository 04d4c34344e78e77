"""``fetch_video``: a range of a camera's recording, cut and sent as one media object.

The cut (``agent.video.cut``, stream copy: well under a second per minute of video)
goes into the store as media (role ``video``, ``video/mp4``) and so travels the
existing chunked path: manifest, 64 KiB chunks, sha256 verified by the platform, resumed
across reconnects. A range longer than ``max_seconds`` or a cut larger than
``max_bytes`` is refused before anything is written; so is a range that is gone.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from agent.core.timeutil import uuid7
from agent.video.anchor import anchor_starts
from agent.video.cut import CutPlan, RangeUnavailable, cut, plan_cut
from agent.video.ring import SegmentRing

log = logging.getLogger("agent.video.fetch")

VIDEO_CONTENT_TYPE = "video/mp4"
VIDEO_ROLE = "video"


class MediaSink(Protocol):
    """Where a finished cut goes: the store's durable, queued media (``Store.add_media``)."""

    def add_media(self, media_id: str, content: bytes, content_type: str, *, record_id: str | None,
                  role: str | None, created_at: str, suffix: str = ".bin") -> dict[str, Any]: ...


@dataclass(frozen=True)
class Fetched:
    plan: CutPlan
    media: dict[str, Any]
    bytes: int


class VideoFetcher:
    def __init__(self, ring: SegmentRing, media: MediaSink, now: Callable[[], datetime], *,
                 max_seconds: float, max_bytes: int, new_id: Callable[[], str] | None = None) -> None:
        self.ring = ring
        self.media = media
        self.now = now
        self.max_seconds = max_seconds
        self.max_bytes = max_bytes
        self.new_id = new_id or uuid7
        self.fetched = 0
        self.refused = 0

    def fetch(self, camera: str, start: datetime, end: datetime) -> Fetched:
        try:
            return self._fetch(camera, start.astimezone(UTC), end.astimezone(UTC))
        except RangeUnavailable:
            self.refused += 1
            raise

    def _fetch(self, camera: str, start: datetime, end: datetime) -> Fetched:
        if end <= start:
            raise RangeUnavailable("'to' must be after 'from'")
        if (end - start).total_seconds() > self.max_seconds:
            raise RangeUnavailable(f"range of {(end - start).total_seconds():.0f}s is longer than the "
                                   f"{self.max_seconds:.0f}s one fetch may ask for: ask for shorter ranges")
        if end > self.ring.wall():
            raise RangeUnavailable(f"range ends in the future ({end.isoformat()}): ask once it is over")
        with self.ring.lock:  # no eviction while the segments are read
            segments = anchor_starts(self.ring.segments(camera), start, end)
            plan = plan_cut(camera, segments, start, end)
            if plan.estimated_bytes > self.max_bytes:
                raise RangeUnavailable(f"range too large: about {plan.estimated_bytes / 1e6:.1f} MB, more than "
                                       f"the {self.max_bytes / 1e6:.0f} MB one fetch may send")
            content = self._cut(plan)
        if len(content) > self.max_bytes:
            raise RangeUnavailable(f"cut too large: {len(content) / 1e6:.1f} MB, more than "
                                   f"{self.max_bytes / 1e6:.0f} MB")
        media_id = self.new_id()
        ref = self.media.add_media(media_id, content, VIDEO_CONTENT_TYPE, record_id=None, role=VIDEO_ROLE,
                                   created_at=self.now().isoformat(), suffix=".mp4")
        self.fetched += 1
        log.info("video.fetch camera=%s from=%s to=%s media=%s bytes=%d", camera, plan.covered_from.isoformat(),
                 plan.covered_to.isoformat(), media_id, len(content))
        return Fetched(plan, ref, len(content))

    def _cut(self, plan: CutPlan) -> bytes:
        work = self.ring.root / ".cuts"
        work.mkdir(parents=True, exist_ok=True)
        out = work / f"{uuid.uuid4().hex}.mp4"
        try:
            cut(plan, out)
            return Path(out).read_bytes()
        finally:
            out.unlink(missing_ok=True)
