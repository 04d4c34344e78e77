"""One camera into the recording ring: a supervised FFmpeg segmenting its stream, copied.

A component (``run(stop)``): FFmpeg reads the camera's RTSP main stream and writes
fragmented MP4 segments of ``segment_s`` seconds into the ring; a lost camera is
reopened with back-off (``agent.video.ffmpeg``).
"""

from __future__ import annotations

import threading

from agent.video.ffmpeg import FfmpegJob, input_args
from agent.video.ring import SegmentRing
from drivers.backoff import Backoff

# fragmented MP4: readable while written, and a power cut loses one fragment, not the segment
FRAGMENTED_MP4 = "movflags=+frag_keyframe+empty_moov+default_base_moof"


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
