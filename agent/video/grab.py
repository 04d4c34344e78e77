"""One picture from a camera nobody decodes: a single FFmpeg grab, bounded in time.

Station photos (``agent.core.photos``) come from the vision worker's newest frame when the
camera is analysed. A camera that is only recorded or relayed (``video.cameras``: FFmpeg
copies its stream and never decodes it), or an analysed one while vision is off, is
read once per record instead: FFmpeg opens the stream, decodes the first picture,
shrinks it and writes one JPEG to its stdout, and is killed if it takes longer than the
timeout. That is a short second session on the camera for about a second, never a
decoder kept running for a few photos a day.
"""

from __future__ import annotations

import re
import subprocess

from agent.redact import redact_text
from agent.video.ffmpeg import ffmpeg_binary, input_args

JPEG_START = b"\xff\xd8"


class GrabError(RuntimeError):
    """FFmpeg gave no picture (message without credentials)."""


def grab_args(url: str, *, timeout_s: float, max_side: int, jpeg_quality: int) -> list[str]:
    source = ["-f", "v4l2", "-i", url] if re.match(r"^/dev/video\d+$", url) else input_args(url, timeout_s)
    fit = f"scale='min(iw,{max_side})':'min(ih,{max_side})':force_original_aspect_ratio=decrease"
    qscale = max(2, min(31, round((100 - jpeg_quality) / 4)))  # FFmpeg's -q:v: 2 best .. 31 worst
    return [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", *source,
            "-frames:v", "1", "-vf", fit, "-q:v", str(qscale), "-f", "image2pipe", "-c:v", "mjpeg", "pipe:1"]


def grab_jpeg(url: str, *, timeout_s: float, max_side: int, jpeg_quality: int) -> bytes:
    """The camera's first picture as a JPEG; GrabError when there is none within ``timeout_s``."""
    args = grab_args(url, timeout_s=timeout_s, max_side=max_side, jpeg_quality=jpeg_quality)
    try:
        done = subprocess.run(args, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise GrabError(f"no picture within {timeout_s:g} s") from None
    except OSError as exc:
        raise GrabError(f"ffmpeg did not start: {exc}") from None
    if done.returncode != 0 or not done.stdout.startswith(JPEG_START):
        last = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise GrabError(f"ffmpeg exit {done.returncode}: {redact_text(last[0])[:200]}")
    return done.stdout
