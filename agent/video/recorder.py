"""One camera into the recording ring: a supervised FFmpeg segmenting its stream, copied.

A component (``run(stop)``): FFmpeg reads the camera's RTSP main stream and writes
fragmented MP4 segments of ``segment_s`` seconds into the ring; a lost camera is
reopened with back-off (``agent.video.ffmpeg``). Each segment grows on disk a fragment
(about a second) at a time, so the one being written can be probed and cut already.
"""

from __future__ import annotations

import threading

from agent.video.ffmpeg import FfmpegJob, input_args
from agent.video.ring import SegmentRing
from drivers.backoff import Backoff

# Fragmented MP4, one fragment a second (at the key frame, or after 1 s even between key
# frames: a camera may send one every 4 s or rarer), each handed to the kernel as it closes.
# Without flush_packets the segment's AVIO buffer (256 KiB) reaches the file only when full
# or when the segment closes: at a sub stream's ~60 kbit/s, the file held only its 28-byte
# ftyp for the first 36 s, so a cut of the last minute or a crash lost all of that.
FRAGMENT_US = 1_000_000
FRAGMENTED_MP4 = ("movflags=+frag_keyframe+empty_moov+default_base_moof"
                  f":frag_duration={FRAGMENT_US}:flush_packets=1")


def segment_args(url: str, pattern: str, segment_s: float, io_timeout_s: float) -> list[str]:
    return [*input_args(url, io_timeout_s), "-map", "0:v:0", "-c", "copy",
            "-f", "segment", "-segment_time", f"{segment_s:g}", "-segment_format", "mp4",
            "-segment_format_options", FRAGMENTED_MP4, "-reset_timestamps", "1", "-strftime", "1", pattern]


class CameraRecorder:
    def __init__(self, camera: str, url: str, ring: SegmentRing, *, segment_s: float, io_timeout_s: float,
                 backoff: Backoff, stall_s: float) -> None:
        self.camera = camera
        self.name = f"video-record-{camera}"
        pattern = ring.output_pattern(camera)
        self.job = FfmpegJob(self.name, lambda: segment_args(url, pattern, segment_s, io_timeout_s),
                             target_hint=str(ring.camera_dir(camera)), backoff=backoff, stall_s=stall_s)

    def run(self, stop: threading.Event) -> None:
        self.job.run(stop)
