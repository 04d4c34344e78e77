"""The recording ring: eviction order and rules on files, then a real recorder's segments."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.video.cut import cut, plan_cut
from agent.video.recorder import CameraRecorder
from agent.video.ring import MIN_SEGMENT_BYTES, SegmentRing
from drivers.backoff import Backoff
from simulator.devices.cameras import RtspCamera

from .fixtures_mqtt import wait_until
from .fixtures_video import ffprobe, rtsp_camera_fixture  # noqa: F401

NOW = datetime(2026, 12, 1, 3, 0, 0, tzinfo=UTC)


def fake_segment(ring: SegmentRing, camera: str, start: datetime, seconds: float, size: int) -> Path:
    path = ring.camera_dir(camera) / start.strftime("%Y%m%dT%H%M%SZ.mp4")
    path.write_bytes(b"\0" * size)
    end = (start + timedelta(seconds=seconds)).timestamp()
    os.utime(path, (end, end))
    return path


def make_ring(tmp_path: Path, **kw: float) -> SegmentRing:
    args = {"retention_days": 15, "budget_bytes": 10**9, "min_free_bytes": 0, **kw}
    return SegmentRing(tmp_path / "video", wall=lambda: NOW, **args)  # type: ignore[arg-type]


def test_retention_evicts_segments_older_than_the_days_kept(tmp_path: Path) -> None:
    ring = make_ring(tmp_path, retention_days=1)
    old = fake_segment(ring, "k1", NOW - timedelta(days=2), 60, 4096)
    young = fake_segment(ring, "k1", NOW - timedelta(hours=23), 60, 4096)
    report = ring.evict()
    assert report.retention == 1 and not old.exists() and young.exists()


def test_budget_evicts_oldest_first_across_cameras_never_the_open_segment(tmp_path: Path) -> None:
    ring = make_ring(tmp_path, budget_bytes=3 * 4096)
    a = [fake_segment(ring, "k1", NOW - timedelta(minutes=10 - 2 * i), 60, 4096) for i in range(3)]
    b = [fake_segment(ring, "k2", NOW - timedelta(minutes=9 - 2 * i), 60, 4096) for i in range(2)]
    writing = fake_segment(ring, "k2", NOW - timedelta(seconds=1), 0.5, 4096)  # FFmpeg is on it
    report = ring.evict()
    assert report.budget == 3
    assert [p.exists() for p in (a[0], b[0], a[1])] == [False, False, False]  # the three oldest
    assert all(p.exists() for p in (b[1], a[2], writing))
    tiny = make_ring(tmp_path, budget_bytes=1)
    assert tiny.evict().budget == 2 and writing.exists()  # even over budget the open one stays


def test_low_free_space_makes_the_ring_give_way_first(tmp_path: Path) -> None:
    ring = make_ring(tmp_path, min_free_bytes=2**62)  # more than any disk has: always short of room
    segment = fake_segment(ring, "k1", NOW - timedelta(minutes=5), 60, 4096)
    assert ring.evict().free_space == 1 and not segment.exists()


def test_header_only_segments_are_not_offered_for_cuts(tmp_path: Path) -> None:
    ring = make_ring(tmp_path)
    fake_segment(ring, "k1", NOW - timedelta(minutes=3), 60, 28)  # a crash right after opening
    good = fake_segment(ring, "k1", NOW - timedelta(minutes=2), 60, 4096)
    assert [s.path for s in ring.segments("k1")] == [good]


def test_recorder_writes_segments_that_play_and_retention_evicts_the_oldest(
        tmp_path: Path, rtsp_camera: RtspCamera) -> None:
    ring = SegmentRing(tmp_path / "video", retention_days=6 / 86400, budget_bytes=10**9, min_free_bytes=0)
    recorder = CameraRecorder("k1", rtsp_camera.url, ring, segment_s=2, io_timeout_s=3,
                              backoff=Backoff(0.2, 1), stall_s=10)
    stop = threading.Event()
    thread = threading.Thread(target=recorder.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(ring.segments("k1")) >= 3, timeout=20, message="three segments")
        first = ring.segments("k1")[0]
        probe = ffprobe(ring.segments("k1")[1].path)
        assert (probe["codec"], probe["width"], probe["height"]) == ("h264", 320, 240)
        assert 1.8 <= probe["duration_s"] <= 2.2  # cut on the key frame after 2 s (one a second)
        assert recorder.job.state == "streaming"
        wait_until(lambda: ring.evict().retention and not first.path.exists(), timeout=15,
                   message="the oldest segment evicted by retention")
        assert ring.segments("k1"), "younger segments stay"
    finally:
        stop.set()
        thread.join(15)
    assert recorder.job.state == "stopped"


def test_the_segment_being_written_grows_every_second_and_can_be_probed_and_cut(tmp_path: Path) -> None:
    # a key frame every 4 s and a low bitrate: fragments may not wait for the key frame, and
    # FFmpeg's output buffer (256 KiB, ~36 s of this stream) must not hold them back
    camera = RtspCamera(width=320, height=240, fps=10, gop=40).start()
    ring = SegmentRing(tmp_path / "video", retention_days=1, budget_bytes=10**9, min_free_bytes=0)
    recorder = CameraRecorder("k1", camera.url, ring, segment_s=600, io_timeout_s=3,
                              backoff=Backoff(0.2, 1), stall_s=10)
    stop = threading.Event()
    thread = threading.Thread(target=recorder.run, args=(stop,), daemon=True)
    thread.start()
    try:
        folder = ring.camera_dir("k1")
        wait_until(lambda: list(folder.glob("*.mp4")), timeout=15, message="the segment opened")
        opened = time.monotonic()

        def on_disk() -> int:
            return sum(p.stat().st_size for p in folder.glob("*.mp4"))

        wait_until(lambda: on_disk() >= MIN_SEGMENT_BYTES, timeout=4, message="more than the header on disk in 4 s")
        sizes = set()
        while time.monotonic() - opened < 8:
            sizes.add(on_disk())
            time.sleep(0.25)
        assert len(sizes) >= 5, f"the open segment grows about once a second: {sorted(sizes)}"
        segment = ring.segments("k1")[-1]
        assert len(ring.segments("k1")) == 1 and ring.is_open(segment, segment)  # still being written
        assert ffprobe(segment.path)["duration_s"] >= 5
        plan = plan_cut("k1", [segment], segment.start + timedelta(seconds=1), segment.end)
        clip = ffprobe(cut(plan, tmp_path / "clip.mp4"))
        assert (clip["codec"], clip["width"]) == ("h264", 320) and clip["duration_s"] >= 5
    finally:
        stop.set()
        thread.join(15)
        camera.stop()
