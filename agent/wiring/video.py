"""Video capability: recording ring, stream relay, and the start_stream / stop_stream /
fetch_video commands, from ``config.video``.

Every ``video.cameras`` entry with ``record`` gets a supervised recorder; the relay
component owns every relay (``relay_to`` ones from the start). Nothing here decodes
video: FFmpeg copies the cameras' streams (agent.video).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from agent.version import agent_version
from agent.video.commands import VideoCommands
from agent.video.fetch import VideoFetcher
from agent.video.ffmpeg import FAILED, FfmpegJob, ffmpeg_binary
from agent.video.gb28181.device import GbDevice
from agent.video.gb28181.settings import GbCamera, GbSettings
from agent.video.recorder import CameraRecorder
from agent.video.relay import StreamRelay
from agent.video.ring import SegmentRing
from agent.video.service import RingKeeper, VideoService
from agent.wiring.capability import BuildContext, Capability
from drivers.backoff import Backoff

log = logging.getLogger("agent.wiring.video")

MB = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class VideoCapability(Capability):
    service: VideoService | None = None

    def recorder_states(self) -> dict[str, Callable[[], str]]:
        """Camera id -> its recorder's FFmpeg state, for the cameras the ring records."""
        recorders = self.service.recorders if self.service is not None else []
        return {r.camera: _state_of(r.job) for r in recorders}


def _state_of(job: FfmpegJob) -> Callable[[], str]:
    return lambda: job.state


def build(ctx: BuildContext) -> VideoCapability:
    cfg = ctx.config.video
    if not cfg.enabled or not cfg.cameras:
        return VideoCapability("video")
    try:
        ffmpeg_binary()
    except FileNotFoundError as exc:
        log.error("video.disabled reason=%s", exc)
        ctx.recorder.raise_alarm("video_unavailable", {"device_id": "video"},
                                 "视频录像无法启动，请告知安装人员 / video recording could not start: tell the installer",
                                 severity="major", details={"error": str(exc)})
        return VideoCapability("video")

    def backoff() -> Backoff:
        return Backoff(cfg.reconnect_min_s, cfg.reconnect_max_s)

    ring = SegmentRing(cfg.dir, retention_days=cfg.retention_days, budget_bytes=int(cfg.disk_budget_mb * MB),
                       min_free_bytes=int(cfg.min_free_mb * MB), wall=lambda: datetime.now(UTC))
    recorders = [CameraRecorder(c.id, c.url, ring, segment_s=cfg.segment_s, io_timeout_s=cfg.io_timeout_s,
                                backoff=backoff(), stall_s=cfg.stall_s) for c in cfg.cameras if c.record]
    relay = StreamRelay({c.id: c.url for c in cfg.cameras}, max_streams=cfg.max_streams,
                        io_timeout_s=cfg.io_timeout_s, backoff=backoff, stall_s=cfg.stall_s,
                        continuous={c.id: c.relay_to for c in cfg.cameras if c.relay_to})
    fetcher = VideoFetcher(ring, ctx.store, ctx.now, max_seconds=cfg.fetch_max_s,
                           max_bytes=int(cfg.fetch_max_mb * MB)) if recorders else None
    commands = VideoCommands(relay, fetcher, max_stream_s=cfg.max_stream_s,
                             allowed_hosts=cfg.allowed_target_hosts).handlers()
    log.info("video ready cameras=%d recording=%d max_streams=%d", len(cfg.cameras), len(recorders),
             cfg.max_streams)
    keeper = RingKeeper(ring, every_s=max(1.0, min(30.0, cfg.segment_s / 2)))
    gb = _gb_device(ctx, ring, recorders)
    return VideoCapability("video", components=(*recorders, relay, keeper, *([gb] if gb else [])),
                           commands=commands, service=VideoService(ring, relay, fetcher, recorders, gb))


def _gb_device(ctx: BuildContext, ring: SegmentRing, recorders: list[CameraRecorder]) -> GbDevice | None:
    """The GB/T 28181 device, when ``video.gb28181`` is enabled (cameras with a channel id)."""
    cfg = ctx.config.video
    if cfg.gb28181 is None or not cfg.gb28181.enabled:
        return None
    cameras = [GbCamera(c.id, c.gb_channel_id, c.url) for c in cfg.cameras if c.gb_channel_id]
    states = {r.camera: r.job for r in recorders}

    def online(camera: str) -> bool:
        job = states.get(camera)
        return job is None or job.state not in FAILED

    gb = cfg.gb28181
    settings = GbSettings(gb.server_id, gb.domain, gb.server_host, gb.server_port, gb.device_id, gb.password,
                          gb.local_port, gb.local_host, gb.register_s, gb.keepalive_s, gb.keepalive_misses,
                          gb.max_viewers, gb.name, agent_version())
    return GbDevice(settings, cameras, ring=ring, alarms=ctx.store, tz=ctx.config.identity.tz,
                    io_timeout_s=cfg.io_timeout_s, backoff=Backoff(cfg.reconnect_min_s, cfg.reconnect_max_s),
                    recorder_online=online)
