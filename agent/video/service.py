"""The video capability's parts held together: recorders, relay, ring upkeep, status.

``VideoService.status()`` is what the agent's status carries under ``video``: each
relay's and recorder's state (``agent.video.ffmpeg`` states), the relayed bandwidth and
the ring's size. ``RingKeeper`` is the component that evicts from the ring.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from agent.video.fetch import VideoFetcher
from agent.video.gb28181.device import GbDevice
from agent.video.recorder import CameraRecorder
from agent.video.relay import StreamRelay
from agent.video.ring import SegmentRing

log = logging.getLogger("agent.video.service")


class RingKeeper:
    """Evicts from the ring every ``every_s`` (a fraction of a segment: the budget holds closely)."""

    name = "video-ring"

    def __init__(self, ring: SegmentRing, every_s: float) -> None:
        self.ring = ring
        self.every_s = every_s

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.ring.evict()
            stop.wait(self.every_s)


@dataclass
class VideoService:
    ring: SegmentRing
    relay: StreamRelay
    fetcher: VideoFetcher | None
    recorders: list[CameraRecorder] = field(default_factory=list)
    gb28181: GbDevice | None = None

    def status(self) -> dict[str, object]:
        streams = self.relay.snapshot()
        return {
            "streams": streams,
            "streams_max": self.relay.max_streams,
            "relay_kbps": self.relay.bitrate_kbps(),
            "recorders": {r.camera: r.job.snapshot() for r in self.recorders},
            "ring": self.ring.summary(),
            "fetched": self.fetcher.fetched if self.fetcher else 0,
            "fetch_refused": self.fetcher.refused if self.fetcher else 0,
            **({"gb28181": self.gb28181.snapshot()} if self.gb28181 is not None else {}),
        }
