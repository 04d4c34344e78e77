"""Faces followed across analysed frames, so a person keeps one id while they are in view.

Greedy matching, best pair first: a detection joins the track whose last box overlaps it
most (IoU), or, at 2 frames/s when a face may move more than its width overlaps allow,
whose centre is within ``max_jump`` face widths. A track unseen for ``max_age_s`` has
left; its id is never reused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.vision.crops import Box


@dataclass
class Track:
    id: int
    box: Box
    first_t: float
    last_t: float
    hits: int = 1


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def centre_distance(a: Box, b: Box) -> float:
    """Distance between centres in units of the mean face width."""
    width = max(1e-6, ((a[2] - a[0]) + (b[2] - b[0])) / 2)
    dx = (a[0] + a[2] - b[0] - b[2]) / 2
    dy = (a[1] + a[3] - b[1] - b[3]) / 2
    return float((dx * dx + dy * dy) ** 0.5 / width)


class FaceTracker:
    def __init__(self, max_age_s: float = 4.0, min_iou: float = 0.2, max_jump: float = 1.0,
                 first_id: int = 1) -> None:
        self.max_age_s = max_age_s
        self.min_iou = min_iou
        self.max_jump = max_jump
        self.tracks: dict[int, Track] = {}
        self._next_id = first_id

    @property
    def active(self) -> bool:
        return bool(self.tracks)

    def update(self, t: float, boxes: Sequence[Box]) -> tuple[list[int], list[int]]:
        """Assign each box a track id; return (ids per box, ids of tracks that left)."""
        pairs = []
        for ti, track in self.tracks.items():
            for bi, box in enumerate(boxes):
                overlap = iou(track.box, box)
                jump = centre_distance(track.box, box)
                if overlap >= self.min_iou or jump <= self.max_jump:
                    pairs.append((overlap - 0.1 * jump, ti, bi))
        pairs.sort(reverse=True)
        assigned: dict[int, int] = {}
        used_tracks: set[int] = set()
        for _, ti, bi in pairs:
            if ti in used_tracks or bi in assigned:
                continue
            assigned[bi] = ti
            used_tracks.add(ti)
            track = self.tracks[ti]
            track.box, track.last_t, track.hits = boxes[bi], t, track.hits + 1
        ids = []
        for bi, box in enumerate(boxes):
            if bi not in assigned:
                assigned[bi] = self._new(t, box)
            ids.append(assigned[bi])
        return ids, self.expire(t)

    def expire(self, t: float) -> list[int]:
        """Drop tracks unseen for ``max_age_s``; return their ids."""
        gone = [ti for ti, track in self.tracks.items() if t - track.last_t > self.max_age_s]
        for ti in gone:
            del self.tracks[ti]
        return gone

    def clear(self) -> list[int]:
        gone = list(self.tracks)
        self.tracks.clear()
        return gone

    def _new(self, t: float, box: Box) -> int:
        track_id = self._next_id
        self._next_id += 1
        self.tracks[track_id] = Track(track_id, box, t, t)
        return track_id
