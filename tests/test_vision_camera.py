"""Camera sources: files with a rate cap, HTTP MJPEG unplugged and plugged back, health alarms."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.config.devices import CameraConfig
from agent.vision.camera import CameraSource, FrameRing, source_kind
from simulator.devices.cameras import FACE_MASK, MjpegServer, Script, write_video
from tests.helpers.components import running

pytestmark = pytest.mark.skipif(not FACE_MASK.is_dir(), reason=f"no data set at {FACE_MASK}")


def wait_for(condition: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()




def test_source_kinds() -> None:
    assert source_kind("rtsp://user:pw@10.0.0.5/stream1") == "rtsp"
    assert source_kind("http://127.0.0.1:8080/video") == "http"
    assert source_kind("/dev/video0") == "usb" and source_kind("0") == "usb"
    assert source_kind("/var/lib/x.avi") == "file"


def test_unpaced_file_is_read_whole_at_the_capped_rate(tmp_path: Path) -> None:
    video = write_video(tmp_path / "idle.avi", Script.idle(6.0), fps=10)
    cam = CameraConfig(id="cam-f", url=str(video), analyse_fps=2)
    source = CameraSource(cam, datetime.now().astimezone, clip_fps=4, buffer_s=3, realtime=False)
    frames = []
    with running(source):
        while not source.ended.is_set() or (frame := source.get(0.1)) is not None:
            frame = source.get(0.2)
            if frame is not None:
                frames.append(frame)
    c = source.counters
    assert c.frames_read == 60 and c.frames_dropped == 0
    assert len(frames) == c.frames_due == 12  # 6 s at 2 analysed frames/s, none lost
    times = [f.t for f in frames]
    assert times == pytest.approx([n * 0.5 for n in range(12)], abs=0.11)
    # the file's own timeline dates the frames, not the wall clock
    assert (frames[-1].at - frames[0].at).total_seconds() == pytest.approx(times[-1] - times[0])
    ring = source.ring.between(0, 100)
    assert len(ring) <= 3 * 4 + 2 and ring[-1][0] == pytest.approx(5.9, abs=0.3)


def test_looped_file_plays_on_with_a_continuous_timeline(tmp_path: Path) -> None:
    video = write_video(tmp_path / "short.avi", Script.idle(1.0), fps=10)
    cam = CameraConfig(id="cam-l", url=str(video), analyse_fps=5, loop=True)
    source = CameraSource(cam, datetime.now().astimezone, realtime=False)
    times: list[float] = []
    with running(source):
        while len(times) < 12:
            frame = source.get(2.0)
            assert frame is not None
            times.append(frame.t)
    assert source.counters.frames_read >= 22 and not source.ended.is_set()  # 2.2 s of a 1 s file
    assert all(b > a for a, b in zip(times, times[1:], strict=False)) and times[-1] >= 2.0


def test_live_source_drops_frames_the_analysis_does_not_take() -> None:
    server = MjpegServer(Script.idle(30.0), fps=10)
    server.plug()
    try:
        cam = CameraConfig(id="cam-d", url=server.url, analyse_fps=5)
        source = CameraSource(cam, datetime.now().astimezone)
        with running(source):
            assert wait_for(lambda: source.counters.frames_due >= 6, 20)
            assert source.counters.frames_dropped >= source.counters.frames_due - 2
            frame = source.get(2.0)
            assert frame is not None and frame.image.shape == (480, 640, 3)
            assert source.latest() is not None
    finally:
        server.unplug()


def test_mjpeg_camera_unplugged_mid_run_recovers() -> None:
    server = MjpegServer(Script.busy(60.0), fps=10)
    server.plug()
    states: list[str] = []
    cam = CameraConfig(id="cam-u", url=server.url, analyse_fps=2)
    source = CameraSource(cam, datetime.now().astimezone, reconnect_min_s=0.2, reconnect_max_s=1.0,
                          on_state=lambda state, detail: states.append(state))
    try:
        with running(source):
            assert wait_for(lambda: source.state == "ok" and source.counters.frames_read > 5, 20)
            server.unplug()
            assert wait_for(lambda: source.state == "disconnected", 15)
            read_while_down = source.counters.frames_read
            time.sleep(1.0)  # several refused reconnects, with back-off
            assert source.counters.frames_read == read_while_down
            assert source.silent_for() >= 1.0
            server.plug()
            assert wait_for(lambda: source.counters.frames_read > read_while_down + 5, 20)
            assert source.state == "ok" and source.silent_for() < 2.0
            assert source.get(2.0) is not None
    finally:
        server.unplug()
    assert states[:3] == ["ok", "disconnected", "ok"]
    assert source.counters.reconnects >= 1


def test_ring_keeps_jpeg_and_gives_back_decoded_frames() -> None:
    ring = FrameRing(seconds=8.0, fps=4.0, max_side=640)
    rng = np.random.default_rng(1)
    base = cv2.GaussianBlur(rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8), (31, 31), 0)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(40):
        ring.add(n * 0.25, at, base)
    frames = ring.between(0.0, 100.0)
    assert len(frames) == 34  # seconds * fps + 2: the oldest fell out
    assert frames[0][2].shape == (360, 640, 3)  # shrunk to max_side
    raw = 34 * 360 * 640 * 3
    assert ring.stored_bytes() < raw / 10  # JPEG, not raw pixels
    small = cv2.resize(base, (640, 360), interpolation=cv2.INTER_AREA)
    assert np.mean(np.abs(frames[-1][2].astype(int) - small.astype(int))) < 3
