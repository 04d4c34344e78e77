"""fetch_video with real parts: a recorded range cut, sent in chunks, verified and played."""

from __future__ import annotations

import hashlib
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.app import Agent
from agent.config_file.loader import load_config
from agent.store import Store
from agent.video.fetch import VideoFetcher
from agent.video.ring import SEGMENT_PATTERN, SegmentRing
from simulator.devices.cameras import RtspCamera
from simulator.platform.broker import Broker
from simulator.platform.platform import Platform

from .fixtures_mqtt import broker_fixture, platform_fixture, wait_until  # noqa: F401
from .fixtures_video import (  # noqa: F401
    AGENT,
    ffprobe,
    rtsp_camera_fixture,
    video_agent_config,
    wait_agent_online,
)


def fetch(platform: Platform, start: datetime, end: datetime, camera: str = "kitchen-1") -> dict:
    return platform.send_command(AGENT, "fetch_video", {"camera_id": camera, "from": start.isoformat(),
                                                        "to": end.isoformat()}, timeout=30)


def test_fetched_range_arrives_verified_and_plays_with_its_duration(
        tmp_path: Path, broker: Broker, platform: Platform, rtsp_camera: RtspCamera) -> None:
    config = video_agent_config(tmp_path, broker.port, [{"id": "kitchen-1", "url": rtsp_camera.url}],
                                fetch_max_s=60)
    agent = Agent(load_config(config, {}))
    agent.start()
    try:
        wait_agent_online(platform)
        wait_until(lambda: len(agent.video.ring.segments("kitchen-1")) >= 5, timeout=25,
                   message="about 8 s recorded")
        end = datetime.now(UTC) - timedelta(seconds=1)
        answer = fetch(platform, end - timedelta(seconds=6), end)
        assert answer["ok"], answer
        media = answer["result"]["media"]
        assert (media["role"], media["content_type"]) == ("video", "video/mp4")
        wait_until(lambda: platform.media_files(AGENT), timeout=20, message="the cut stored by the platform")
        stored = platform.media_files(AGENT)[0]
        content = Path(stored["path"]).read_bytes()
        assert stored["id"] == media["id"] and hashlib.sha256(content).hexdigest() == media["sha256"]
        probe = ffprobe(stored["path"])
        assert (probe["codec"], probe["width"], probe["height"]) == ("h264", 320, 240)
        # stream copy starts on the key frame at or before 'from' (one a second here)
        assert 6.0 * 0.9 <= probe["duration_s"] <= 6.0 + 1.2, probe

        first = agent.video.ring.segments("kitchen-1")[0]
        agent.video.ring.retention = timedelta(seconds=4)  # as if 15 days had passed for the oldest
        assert agent.video.ring.evict().retention >= 1 and not first.path.exists()
        gone = fetch(platform, first.start, first.end - timedelta(seconds=0.5))
        assert not gone["ok"] and gone["error"].startswith("range gone: the recordings of camera 'kitchen-1' start at")
        future = fetch(platform, datetime.now(UTC), datetime.now(UTC) + timedelta(seconds=10))
        assert not future["ok"] and "range ends in the future" in future["error"]
        too_long = fetch(platform, end - timedelta(minutes=5), end)
        assert not too_long["ok"] and "longer than the 60s one fetch may ask for" in too_long["error"]
        unknown = fetch(platform, end - timedelta(seconds=4), end, camera="hall")
        assert not unknown["ok"] and "no recording for camera 'hall'" in unknown["error"]
        assert len(platform.media_files(AGENT)) == 1, "a refusal sends nothing"
        assert agent.video.status()["fetch_refused"] == 4
    finally:
        agent.stop()


T0 = datetime(2026, 12, 1, 3, 0, 0, tzinfo=UTC)


def recorded_segment(ring: SegmentRing, named: datetime, media_s: float, last_write: datetime) -> None:
    """A segment as the recorder writes it (fragmented MP4, agent.video.recorder), here with a
    key frame every 0.5 s."""
    path = ring.camera_dir("k1") / named.strftime(SEGMENT_PATTERN)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
                    "-t", f"{media_s}", "-c:v", "libx264", "-g", "5", "-pix_fmt", "yuv420p", "-f", "mp4",
                    "-movflags", "+frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "1000000",
                    str(path)], check=True, timeout=60)
    os.utime(path, (last_write.timestamp(), last_write.timestamp()))


def test_a_recorder_runs_first_segment_is_cut_where_its_video_starts_not_where_its_name_says(
        tmp_path: Path) -> None:
    # FFmpeg writes what it read while probing the camera into a run's first segment at once,
    # and the name keeps whole seconds: this one is named T0 but its 3 s of video, the last
    # frame arriving at T0+2.3, began at T0-0.7. The next one starts where it ended.
    ring = SegmentRing(tmp_path / "video", retention_days=15, budget_bytes=10**9, min_free_bytes=0,
                       wall=lambda: T0 + timedelta(minutes=1))
    recorded_segment(ring, T0, 3.0, T0 + timedelta(seconds=2.3))
    recorded_segment(ring, T0 + timedelta(seconds=2), 2.0, T0 + timedelta(seconds=4.3))
    store = Store(tmp_path / "agent.db", tmp_path / "media")
    try:
        fetcher = VideoFetcher(ring, store, lambda: T0 + timedelta(minutes=1), max_seconds=60, max_bytes=10**8)
        fetched = fetcher.fetch("k1", T0 + timedelta(seconds=0.8), T0 + timedelta(seconds=3.3))
        first, second = fetched.plan.pieces
        assert (first.inpoint_s, first.outpoint_s, second.inpoint_s, second.outpoint_s) == (1.5, None, None, 1.0)
        [row] = store.query("SELECT path FROM media WHERE id=?", (fetched.media["id"],))
        # from the key frame 1.5 s into the first segment to 1.0 s into the second: 2.5 s (placed by
        # its name the cut began at 0.5 s, a second early, and lasted 3.5 s)
        assert 2.5 - 0.05 <= ffprobe(row["path"])["duration_s"] <= 2.5 + 0.05
    finally:
        store.close()
