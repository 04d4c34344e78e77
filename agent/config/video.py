"""The video section (agent/video/): relay, recording ring, video on demand."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from agent.config.base import Strict

GB_ID = r"^[0-9]{20}$"  # GB/T 28181 code: centre, industry, type (131 camera, 132 channel), serial


class Gb28181Config(Strict):
    """The agent as a GB/T 28181 device on a provincial or county video platform (WVP, LiveGBS, ...)."""

    enabled: bool = Field(False, description="Register with the GB/T 28181 platform below.")
    server_id: str = Field(pattern=GB_ID, description="The platform's SIP id (20 digits, from the platform).")
    domain: str = Field(pattern=r"^[0-9A-Za-z.]{1,64}$", description="The platform's SIP domain (often the first "
                                                                      "10 digits of the server id).")
    server_host: str = Field(min_length=1, max_length=253, description="The platform's SIP address (IP or name).")
    server_port: int = Field(5060, ge=1, le=65535)
    transport: Literal["udp"] = Field("udp", description="SIP signalling transport (media: UDP or TCP, as each "
                                                         "invite asks).")
    device_id: str = Field(pattern=GB_ID, description="The agent's own device id (20 digits, type 118 NVR or "
                                                      "132 camera, as the platform assigned).")
    password: str = Field(min_length=1, max_length=128, description="The registration password (never logged).")
    local_port: int = Field(5060, ge=0, le=65535, description="The agent's SIP port (0: any free port).")
    local_host: str = Field("", max_length=253, description="Address the platform reaches the agent and its media "
                                                             "at (empty: the one facing the platform).")
    register_s: int = Field(3600, ge=30, le=86400, description="Registration lifetime asked for; refreshed before.")
    keepalive_s: float = Field(60, ge=1, le=3600, description="Keepalive MESSAGE interval.")
    keepalive_misses: int = Field(3, ge=1, le=20, description="Unanswered keepalives before re-registering.")
    max_viewers: int = Field(8, ge=1, le=64, description="Live and playback streams at once.")
    name: str = Field("明厨亮灶", max_length=64, description="Device name shown in the platform's catalog.")


class VideoCameraConfig(Strict):
    """A camera's own stream (H.264/H.265 over RTSP), copied by FFmpeg, never transcoded."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                    description="Camera id on the platform (the same id as in cameras: when it is also analysed).")
    url: str = Field(min_length=1, description="The camera's main stream, e.g. rtsp://user:pass@10.0.0.5/stream1 "
                                               "(credentials are never logged).")
    record: bool = Field(True, description="Keep this camera in the local recording ring.")
    relay_to: str | None = Field(None, pattern=r"^(rtmps?|rtsps?)://[^\s/?#]+", max_length=1024,
                                 description="Relay continuously to this rtmp(s):// or rtsp(s):// URL.")
    gb_channel_id: str | None = Field(None, pattern=GB_ID, description="GB/T 28181 channel id (20 digits) of "
                                      "this camera on the GB platform (video.gb28181); unset: not offered.")


class VideoConfig(Strict):
    enabled: bool = True
    dir: Path = Field(Path("/var/lib/canteen-agent/video"), description="Recording ring and cuts.")
    segment_s: float = Field(60, ge=1, le=600, description="Length of one recorded MP4 segment.")
    retention_days: float = Field(15, gt=0, le=366, description="Recordings are kept this long (regional rules: >= 15).")
    disk_budget_mb: float = Field(20480, gt=0, description="The ring's own share of the disk.")
    min_free_mb: float = Field(
        512, ge=0, description="The ring gives way first: it evicts its oldest segments while the file system has "
                               "less than this free, so the store's records always have room.")
    max_streams: int = Field(2, ge=0, le=16, description="Concurrent relays (continuous ones count).")
    max_stream_s: float = Field(3600, gt=0, le=86400, description="Longest relay a start_stream may ask for.")
    allowed_target_hosts: list[str] = Field(
        default_factory=list, description="Relay only to these hosts (empty: any host a signed command names).")
    fetch_max_s: float = Field(900, gt=0, le=7200, description="Longest range one fetch_video may ask for.")
    fetch_max_mb: float = Field(128, gt=0, le=256, description="Largest cut fetch_video sends (the platform takes 256).")
    reconnect_min_s: float = Field(1.0, gt=0, le=60)
    reconnect_max_s: float = Field(30.0, gt=0, le=600)
    io_timeout_s: float = Field(5.0, gt=0, le=60, description="A camera silent this long is lost (FFmpeg socket timeout).")
    stall_s: float = Field(15.0, gt=0, le=300, description="No media this long: the FFmpeg child is restarted.")
    cameras: list[VideoCameraConfig] = Field(default_factory=list)
    gb28181: Gb28181Config | None = Field(None, description="Register as a GB/T 28181 device (docs/PLATFORM.md §11).")

    @model_validator(mode="after")
    def _consistent(self) -> VideoConfig:
        ids = [c.id for c in self.cameras]
        if len(ids) != len(set(ids)):
            raise ValueError("duplicate video camera id")
        channels = [c.gb_channel_id for c in self.cameras if c.gb_channel_id]
        if len(channels) != len(set(channels)):
            raise ValueError("duplicate video camera gb_channel_id")
        if self.gb28181 is not None and self.gb28181.device_id in channels:
            raise ValueError("a camera's gb_channel_id must differ from video.gb28181.device_id")
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not exceed reconnect_max_s")
        relays = [c for c in self.cameras if c.relay_to]
        if len(relays) > self.max_streams:
            raise ValueError(f"{len(relays)} continuous relays exceed max_streams={self.max_streams}")
        for camera in relays:  # the scheme is the field's pattern; the host list is checked here
            host = urlsplit(camera.relay_to or "").hostname
            if self.allowed_target_hosts and host not in self.allowed_target_hosts:
                raise ValueError(f"video camera {camera.id!r}: relay_to host {host!r} is not in allowed_target_hosts")
        return self
