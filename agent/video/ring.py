"""The recording ring: per-camera MP4 segments on disk, evicted oldest first.

``<dir>/<camera>/<YYYYmmddTHHMMSS>Z.mp4``: FFmpeg's segment muxer names each file by
the UTC wall time it opened it (whole seconds; refined to the previous segment's end
when that falls within the named second); the file's last write (mtime) is where it ends.
A recorder run's first segment holds video from before its name: a cut places it by its
media duration instead (``agent.video.anchor``). The segments are fragmented MP4, written
to the file a fragment (about a second) at a time (``agent.video.recorder``): the segment
being written can be read and cut already, and a crash of FFmpeg or the agent costs at
most the last second. A power cut costs in addition what the kernel had not yet written
back (Linux's default: within about 30 s); segments are not fsynced, which would wear an
SD card for seconds of video.

Eviction, oldest first across cameras, never touching a segment being written:
  1. past ``retention_days``;
  2. while the ring holds more than its own disk share (``budget_bytes``);
  3. while the file system has less than ``min_free_bytes`` free: video is the first
     thing to give way, so an undelivered record in the store never loses its room.
A cut in progress holds ``lock``, so eviction never pulls a file from under it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

log = logging.getLogger("agent.video.ring")

SEGMENT_PATTERN = "%Y%m%dT%H%M%SZ.mp4"  # strftime, as FFmpeg's segment muxer expands it (TZ=UTC)
_NAME = re.compile(r"^(\d{8}T\d{6})Z\.mp4$")
MIN_SEGMENT_BYTES = 1024  # smaller: only the header reached the disk (a crash right after opening)
OPEN_GRACE_S = 3.0  # written this recently: may still be growing (the recorder writes a fragment a second)


@dataclass(frozen=True)
class Segment:
    camera: str
    path: Path
    start: datetime  # UTC, from the name
    end: datetime  # UTC, the last write
    bytes: int
    # True when start is the previous segment's last write (sub-second, exact); False for a
    # recorder run's first segment, which starts before its name (agent.video.anchor)
    exact_start: bool = False

    @property
    def seconds(self) -> float:
        return max(0.0, (self.end - self.start).total_seconds())


@dataclass
class EvictionReport:
    retention: int = 0
    budget: int = 0
    free_space: int = 0
    bytes_freed: int = 0
    evicted: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.retention + self.budget + self.free_space


def segment_start(name: str) -> datetime | None:
    match = _NAME.match(name)
    if not match:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)


def _refine_starts(segments: list[Segment]) -> list[Segment]:
    """Names have whole seconds; a segment FFmpeg opened as it closed the previous one
    started at that one's last write (sub-second), which lies within the named second."""
    refined: list[Segment] = []
    for segment in segments:
        before = refined[-1] if refined else None
        if before is not None and segment.start <= before.end < segment.start + timedelta(seconds=1):
            segment = Segment(segment.camera, segment.path, before.end, max(before.end, segment.end), segment.bytes,
                              exact_start=True)
        refined.append(segment)
    return refined


class SegmentRing:
    def __init__(self, root: Path, *, retention_days: float, budget_bytes: int, min_free_bytes: int,
                 wall: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.root = Path(root)
        self.retention = timedelta(days=retention_days)
        self.budget_bytes = budget_bytes
        self.min_free_bytes = min_free_bytes
        self.wall = wall  # real time: the video is real time even when a demo clock runs fast
        self.lock = threading.RLock()
        self.evicted_total = 0

    def camera_dir(self, camera: str) -> Path:
        path = self.root / camera
        path.mkdir(parents=True, exist_ok=True)
        return path

    def output_pattern(self, camera: str) -> str:
        return str(self.camera_dir(camera) / SEGMENT_PATTERN)

    # --- what is on disk ----------------------------------------------------------------

    def segments(self, camera: str) -> list[Segment]:
        """The camera's readable segments, oldest first."""
        folder = self.root / camera
        found: list[Segment] = []
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return []
        for entry in entries:
            start = segment_start(entry.name)
            if start is None:
                continue
            try:
                info = entry.stat()
            except FileNotFoundError:
                continue  # evicted meanwhile
            if info.st_size < MIN_SEGMENT_BYTES and self._settled(info.st_mtime):
                continue
            found.append(Segment(camera, Path(entry.path), start,
                                 max(start, datetime.fromtimestamp(info.st_mtime, UTC)), info.st_size))
        return _refine_starts(sorted(found, key=lambda s: s.start))

    def cameras(self) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(self.root) if e.is_dir() and not e.name.startswith("."))
        except FileNotFoundError:
            return []

    def all_segments(self) -> list[Segment]:
        return sorted((s for camera in self.cameras() for s in self.segments(camera)), key=lambda s: s.start)

    def usage_bytes(self) -> int:
        return sum(s.bytes for s in self.all_segments())

    def _settled(self, mtime: float) -> bool:
        return self.wall().timestamp() - mtime > OPEN_GRACE_S

    def is_open(self, segment: Segment, newest: Segment | None) -> bool:
        """The newest file of its camera, written moments ago: FFmpeg is still on it."""
        return segment == newest and not self._settled(segment.end.timestamp())

    # --- eviction -------------------------------------------------------------------------

    def evict(self) -> EvictionReport:
        report = EvictionReport()
        with self.lock:
            segments = self.all_segments()
            newest = {c: self.segments(c)[-1] for c in {s.camera for s in segments}}
            candidates = [s for s in segments if not self.is_open(s, newest.get(s.camera))]
            used = sum(s.bytes for s in segments)
            cutoff = self.wall() - self.retention
            for segment in candidates:
                reason = self._reason(segment, cutoff, used)
                if reason is None:
                    break  # oldest first: once one may stay, the younger ones may too
                if self._remove(segment):
                    used -= segment.bytes
                    setattr(report, reason, getattr(report, reason) + 1)
                    report.bytes_freed += segment.bytes
                    report.evicted.append(f"{segment.camera}/{segment.path.name}")
        if report.total:
            self.evicted_total += report.total
            log.info("video.ring.evicted retention=%d budget=%d free_space=%d bytes=%d", report.retention,
                     report.budget, report.free_space, report.bytes_freed)
        return report

    def _reason(self, segment: Segment, cutoff: datetime, used: int) -> str | None:
        if segment.end < cutoff:
            return "retention"
        if used > self.budget_bytes:
            return "budget"
        if self.min_free_bytes and self._free_bytes() < self.min_free_bytes:
            return "free_space"
        return None

    def _free_bytes(self) -> int:
        try:
            return shutil.disk_usage(self.root).free
        except FileNotFoundError:
            return self.min_free_bytes

    @staticmethod
    def _remove(segment: Segment) -> bool:
        try:
            segment.path.unlink()
            return True
        except FileNotFoundError:
            return False
        except OSError as exc:
            log.error("video.ring.remove_failed path=%s error=%s", segment.path, exc)
            return False

    def summary(self) -> dict[str, object]:
        segments = self.all_segments()
        return {"bytes": sum(s.bytes for s in segments), "budget_bytes": self.budget_bytes,
                "segments": len(segments), "evicted": self.evicted_total,
                "oldest": segments[0].start.isoformat() if segments else None}
