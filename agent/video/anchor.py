"""Where a recorder run's first segment really starts: its media length back from its end.

FFmpeg reads a camera for up to a second (``agent.video.ffmpeg.PROBE_US``) before it opens
the first segment of a run, then writes everything it buffered meanwhile into that
segment at once; and the segment's name has whole seconds only. So the first segment
holds up to about two seconds of video from before the time its name says: a cut that
placed ``from`` by the name started that much early, on top of the key-frame interval a
stream copy may start early (docs/PLATFORM.md promises only the latter). Every later
segment of a run starts exactly where the one before it ended (``agent.video.ring``).

A segment's last write is when its newest frame arrived, and from the burst on the camera
sends in real time, so the first segment starts at its last write minus its media
duration (read by ffprobe). Only segments near a cut's range are probed, once per fetch.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.video.ring import Segment

log = logging.getLogger("agent.video.anchor")

# A first segment starts at most this much before its name: the name's lost fraction of
# a second, FFmpeg's probe, and a margin for a slow start.
LEAD_S = 4.0
PROBE_TIMEOUT_S = 10.0
CONSISTENT_READS = 3  # a segment being written gains a fragment a second; ffprobe takes ~0.1 s


def media_seconds(path: Path) -> float | None:
    """The media duration of an MP4 file (what a player sees), or None if ffprobe cannot tell."""
    binary = shutil.which("ffprobe")
    if binary is None:
        log.warning("video.anchor.no_ffprobe (install ffmpeg): first segments placed by their names")
        return None
    try:
        done = subprocess.run([binary, "-v", "error", "-show_entries", "format=duration", "-of",
                               "default=noprint_wrappers=1:nokey=1", str(path)],
                              capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        log.warning("video.anchor.probe_timeout path=%s", path.name)
        return None
    try:
        seconds = float(done.stdout.strip())
    except ValueError:
        return None  # no duration yet (only the header on disk) or not a readable MP4
    return seconds if done.returncode == 0 and seconds > 0 else None


def anchor_starts(segments: list[Segment], start: datetime, end: datetime) -> list[Segment]:
    """``segments`` (oldest first) with the start of each run's first segment near
    ``start``..``end`` placed by its media duration."""
    anchored: list[Segment] = []
    for segment in segments:
        if not segment.exact_start and segment.end > start \
                and segment.start - timedelta(seconds=LEAD_S) < end:
            segment = _anchored(segment, anchored[-1] if anchored else None)
        anchored.append(segment)
    return anchored


def _anchored(segment: Segment, before: Segment | None) -> Segment:
    for _ in range(CONSISTENT_READS):
        try:
            info = os.stat(segment.path)
            seconds = media_seconds(segment.path)
            unchanged = _same(info, os.stat(segment.path))
        except FileNotFoundError:
            return segment  # evicted meanwhile: the cut will say so
        if seconds is None:
            return segment
        if unchanged:  # duration and last write describe the same bytes
            end = datetime.fromtimestamp(info.st_mtime, UTC)
            start = end - timedelta(seconds=seconds)
            if before is not None:
                start = max(start, before.end)  # a run begins after the previous one ended
            return replace(segment, start=start, end=end, bytes=info.st_size, exact_start=True)
    log.info("video.anchor.still_growing path=%s: placed by its name", segment.path.name)
    return segment


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_mtime_ns, a.st_size) == (b.st_mtime_ns, b.st_size)
