"""``video.gb28181`` and its cameras as the GB device needs them (the config room stays
above this one: agent/wiring/video.py makes these from the config)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GbSettings:
    """``video.gb28181`` as the device needs it (the config room stays above this one)."""

    server_id: str
    domain: str
    server_host: str
    server_port: int
    device_id: str
    password: str
    local_port: int = 5060
    local_host: str = ""
    register_s: int = 3600
    keepalive_s: float = 60.0
    keepalive_misses: int = 3
    max_viewers: int = 8
    name: str = "明厨亮灶"
    firmware: str = ""
    muxer: str = "ffmpeg"  # what makes the live PS: ffmpeg (the cheaper) or gstreamer (media.MUXERS)


@dataclass(frozen=True)
class GbCamera:
    camera: str
    channel_id: str
    url: str
