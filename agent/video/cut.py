"""A time range cut from a camera's segments into one MP4, by stream copy.

``plan_cut`` picks the segments that overlap the range and where to enter and leave
each (FFmpeg concat demuxer ``inpoint`` / ``outpoint``), or says clearly why the range
cannot be had: gone (before the oldest segment kept), not recorded (the camera was
down), not over yet. ``cut`` runs FFmpeg on the plan. With stream copy a cut starts at
the key frame at or before ``from`` (cameras send one every 1-4 s), so a clip may start
up to one key-frame interval early; it never ends late.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from agent.video.ffmpeg import ffmpeg_binary
from agent.video.ring import Segment

log = logging.getLogger("agent.video.cut")

GAP_REPORTED_S = 3.0  # shorter holes between segments are the muxer's own (key-frame alignment)
CUT_TIMEOUT_S = 120.0


class RangeUnavailable(Exception):
    """The range cannot be cut; the message says why (for the command's answer)."""


@dataclass(frozen=True)
class Piece:
    segment: Segment
    inpoint_s: float | None
    outpoint_s: float | None


@dataclass(frozen=True)
class CutPlan:
    camera: str
    pieces: list[Piece]
    covered_from: datetime
    covered_to: datetime
    gaps: list[tuple[datetime, datetime]]

    @property
    def estimated_bytes(self) -> int:
        total = 0.0
        for p in self.pieces:
            seconds = p.segment.seconds or 1.0
            start = p.inpoint_s or 0.0
            stop = p.outpoint_s if p.outpoint_s is not None else seconds
            total += p.segment.bytes * min(1.0, max(0.0, stop - start) / seconds)
        return int(total)

    @property
    def seconds(self) -> float:
        return (self.covered_to - self.covered_from).total_seconds()


def plan_cut(camera: str, segments: list[Segment], start: datetime, end: datetime) -> CutPlan:
    if not segments:
        raise RangeUnavailable(f"no recording for camera {camera!r}")
    oldest, newest = segments[0], segments[-1]
    if end <= oldest.start:
        raise RangeUnavailable(
            f"range gone: the recordings of camera {camera!r} start at {oldest.start.isoformat()}"
            " (older video was evicted for retention or the disk share, or never recorded)")
    if start >= newest.end:
        raise RangeUnavailable(f"not recorded: camera {camera!r} has video only until {newest.end.isoformat()}")
    overlapping = [s for s in segments if s.start < end and s.end > start]
    if not overlapping:
        raise RangeUnavailable(f"not recorded: camera {camera!r} has no video between "
                               f"{start.isoformat()} and {end.isoformat()} (camera or recorder down)")
    # The newest segment may gain a fragment while FFmpeg cuts: leave it at 'to' even when
    # 'to' is past its last write so far, or the clip would end late.
    pieces = [Piece(s, _offset(start, s), _offset(end, s) if end < s.end or s is newest else None)
              for s in overlapping]
    covered_from = max(start, overlapping[0].start)
    covered_to = min(end, overlapping[-1].end)
    return CutPlan(camera, pieces, covered_from, covered_to, _gaps(overlapping, covered_from, covered_to))


def _offset(at: datetime, segment: Segment) -> float | None:
    seconds = (at - segment.start).total_seconds()
    return round(seconds, 3) if seconds > 0 else None


def _gaps(segments: list[Segment], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    holes = []
    edge = start
    for s in segments:
        if (s.start - edge).total_seconds() > GAP_REPORTED_S:
            holes.append((edge, s.start))
        edge = max(edge, s.end)
    if (end - edge) > timedelta(seconds=GAP_REPORTED_S):
        holes.append((edge, end))
    return holes


def concat_list(plan: CutPlan) -> str:
    lines = ["ffconcat version 1.0"]
    for piece in plan.pieces:
        path = str(piece.segment.path.resolve()).replace("'", r"'\''")
        lines.append(f"file '{path}'")
        if piece.inpoint_s is not None:
            lines.append(f"inpoint {piece.inpoint_s:.3f}")
        if piece.outpoint_s is not None:
            lines.append(f"outpoint {piece.outpoint_s:.3f}")
    return "\n".join(lines) + "\n"


def cut(plan: CutPlan, out_path: Path, timeout_s: float = CUT_TIMEOUT_S) -> Path:
    """Write the plan's range to ``out_path`` (MP4, index at the front so it plays at once)."""
    list_path = out_path.with_suffix(".ffconcat")
    list_path.write_text(concat_list(plan))
    args = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "concat", "-safe", "0",
            "-i", str(list_path), "-map", "0:v:0", "-c", "copy", "-movflags", "+faststart", "-y", str(out_path)]
    try:
        done = subprocess.run(args, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise RangeUnavailable(f"cutting took longer than {timeout_s:.0f}s") from None
    finally:
        list_path.unlink(missing_ok=True)
    if done.returncode != 0 or not out_path.exists() or out_path.stat().st_size == 0:
        out_path.unlink(missing_ok=True)
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise RangeUnavailable(f"cut failed: {reason[0]}")
    log.info("video.cut camera=%s pieces=%d seconds=%.1f bytes=%d", plan.camera, len(plan.pieces),
             plan.seconds, out_path.stat().st_size)
    return out_path
