"""Where a relay may send a camera's stream: checked before FFmpeg sees the URL.

A target comes from a signed platform command or the config; it is still checked,
because FFmpeg would happily write to ``file:`` or read ``concat:`` URLs. Only network
media servers are accepted (RTMP, RTSP and their TLS forms), optionally only on the
hosts the config allows.
"""

from __future__ import annotations

from urllib.parse import urlsplit

TARGET_SCHEMES = ("rtmp", "rtmps", "rtsp", "rtsps")
MAX_URL_LENGTH = 1024


class TargetError(ValueError):
    """A relay target the agent will not send to."""


def check_target(url: str, allowed_hosts: list[str] | None = None) -> str:
    """Return ``url`` if it is an acceptable relay target, else raise TargetError saying why."""
    if len(url) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 32 for c in url):
        raise TargetError("target URL too long or has spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme not in TARGET_SCHEMES:
        raise TargetError(f"target scheme {parts.scheme or 'missing'!r} not allowed (use {', '.join(TARGET_SCHEMES)})")
    if not parts.hostname:
        raise TargetError("target URL has no host")
    if allowed_hosts and parts.hostname not in allowed_hosts:
        raise TargetError(f"target host {parts.hostname!r} is not in video.allowed_target_hosts")
    return url


def target_kind(url: str) -> str:
    """``rtmp`` or ``rtsp``: which muxer FFmpeg needs."""
    return "rtsp" if urlsplit(url).scheme in ("rtsp", "rtsps") else "rtmp"


def host_port(url: str) -> str:
    """``host:port`` of a URL (FFmpeg names it in its errors), without credentials."""
    parts = urlsplit(url)
    default = {"rtmp": 1935, "rtmps": 443, "rtsp": 554, "rtsps": 322}.get(parts.scheme, 0)
    return f"{parts.hostname}:{parts.port or default}"
