"""The vision pipeline with the real ONNX models on composed kitchen video from real faces."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.app import Agent
from agent.command_contract import CommandError
from agent.config_file.model import AgentConfig
from agent.core.timeutil import ManualClock
from agent.ops.runtime import Supervisor
from agent.vision.pipeline import CameraWorker, VisionModels
from simulator.devices.cameras import FACE_MASK, KitchenScene, MjpegServer, Script, write_video
from tests.conftest import TZ, make_config
from tests.helpers.components import running

pytestmark = pytest.mark.skipif(not FACE_MASK.is_dir(), reason=f"no data set at {FACE_MASK}")
START = datetime(2026, 11, 30, 10, 0, tzinfo=TZ)


def wait_for(condition: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


@pytest.fixture(scope="module")
def models() -> VisionModels:
    config = make_config(Path("/nonexistent"), vision={"site_dir": "/nonexistent/site"})
    return VisionModels.load(config.vision)


def vision_config(tmp_path: Path, cameras: list[dict], **vision) -> AgentConfig:
    return make_config(tmp_path, cameras=cameras,
                       vision={"site_dir": str(tmp_path / "site"), "persist_s": 5, "clear_s": 3,
                               "pre_roll_s": 3, "post_roll_s": 3, **vision})


def make_agent(config: AgentConfig, clock: ManualClock, monkeypatch: pytest.MonkeyPatch,
               models: VisionModels) -> Agent:
    monkeypatch.setattr(VisionModels, "load", classmethod(lambda cls, vision: models))
    return Agent(config, now=clock)


def worker_for(agent: Agent, camera_id: str, models: VisionModels, realtime: bool | None) -> CameraWorker:
    cam = next(c for c in agent.config.cameras if c.id == camera_id)
    return CameraWorker(cam, agent.config.vision, models, agent.recorder, agent.devices, agent.now,
                        10**9, realtime=realtime, health=agent.device_health.on_health)




def payloads(agent: Agent, type_: str) -> list[dict]:
    rows = agent.store.query("SELECT payload FROM records WHERE type=? ORDER BY seq", (type_,))
    return [json.loads(r["payload"]) for r in rows]


# --- models on real faces ----------------------------------------------------------------


def test_a_real_face_is_found_in_the_kitchen_and_none_when_empty(models: VisionModels) -> None:
    scene = KitchenScene(Script([*Script.idle(2).segments, *Script.busy(2, "without_mask").segments]))
    assert models.detector.detect(scene.render(1.0)) == []
    faces = models.detector.detect(scene.render(3.0))
    assert len(faces) == 1 and faces[0].score >= 0.9
    x1, y1, x2, y2 = faces[0].box
    assert 180 < (x1 + x2) / 2 < 360 and 40 < (y1 + y2) / 2 < 220 and x2 - x1 > 40


def test_masked_and_unmasked_faces_are_told_apart(models: VisionModels) -> None:
    """Real val photos of each class, pasted into the kitchen, through detector and classifier."""
    results: dict[str, list[float]] = {}
    for cls in ("with_mask", "without_mask"):
        files = [f for f in sorted((FACE_MASK / "val" / cls).glob("*.jpg"))
                 if min(cv2.imread(str(f)).shape[:2]) >= 150]  # a face big enough for a camera view
        probs = []
        for path in files[:: max(1, len(files) // 10)][:10]:
            scene = KitchenScene(Script.busy(1, "with_mask"), faces={"with_mask": str(path.relative_to(FACE_MASK))})
            frame = scene.render(0.5)
            faces = [f for f in models.detector.detect(frame) if f.score >= 0.8]
            if faces:
                best = max(faces, key=lambda f: f.score)
                probs.append(float(models.mask.predict_boxes(frame, [best.box])[0]))
        results[cls] = probs
    assert len(results["with_mask"]) >= 6 and len(results["without_mask"]) >= 6
    assert sum(p < 0.5 for p in results["with_mask"]) >= len(results["with_mask"]) - 1
    assert sum(p > 0.5 for p in results["without_mask"]) >= len(results["without_mask"]) - 1
    assert np.median(results["without_mask"]) - np.median(results["with_mask"]) > 0.8


# --- the scenario ----------------------------------------------------------------------


def test_mask_removed_for_10_s_is_one_violation_with_snapshot_and_clip_then_cleared(
        tmp_path: Path, models: VisionModels, monkeypatch: pytest.MonkeyPatch) -> None:
    video = write_video(tmp_path / "scene.avi", Script.mask_removed(removed_s=10), fps=10)
    config = vision_config(tmp_path, [{"id": "cam1", "url": str(video), "analyse_fps": 2}])
    clock = ManualClock(START)
    agent = make_agent(config, clock, monkeypatch, models)
    worker = worker_for(agent, "cam1", models, realtime=False)  # the file's timeline, not 29 s of wall
    with running(worker):
        assert wait_for(worker.source.ended.is_set, 90)
        counters = worker.source.counters
        assert wait_for(lambda: counters.frames_analysed == counters.frames_due, 10)
        assert wait_for(lambda: not worker.evidence.pending, 10)
        # a later violation must not be waiting unseen: the cleared alarm arrived
        assert wait_for(lambda: len(payloads(agent, "alarm")) >= 2, 10)

    violations = payloads(agent, "vision_violation")
    assert len(violations) == 1
    v = violations[0]
    assert v["data"]["kind"] == "no_mask" and v["data"]["camera_id"] == "cam1"
    assert v["source"] == {"device_id": "cam1", "kind": "camera"}
    started = datetime.fromisoformat(v["data"]["started_at"])
    assert 7.5 <= (started - START).total_seconds() <= 10.0  # mask off at 8 s into the video
    assert v["data"]["seen_s"] >= 5.0 and v["data"]["confidence"] > 0.8
    x1, y1, x2, y2 = v["data"]["box"]
    assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1
    roles = {m["role"]: m for m in v["media"]}
    assert set(roles) == {"snapshot", "clip"}

    alarms = payloads(agent, "alarm")
    assert [(a["data"]["kind"], a["data"]["state"]) for a in alarms] == [("no_mask", "raised"),
                                                                        ("no_mask", "cleared")]
    raised, cleared = alarms
    assert raised["media"] == v["media"] and raised["data"]["details"]["record_id"] == v["id"]
    assert cleared["data"]["raised_id"] == raised["id"] and "fixed" in cleared["data"]["message"]
    cleared_s = (datetime.fromisoformat(cleared["occurred_at"]) - START).total_seconds()
    assert 21.0 <= cleared_s <= 25.0  # mask back on at 18 s, compliant for 3 s
    assert agent.store.open_alarms() == []

    # the media are stored, linked to the record, queued for the uplink, and readable
    snap = agent.store.media_info(roles["snapshot"]["id"])
    clip = agent.store.media_info(roles["clip"]["id"])
    assert snap["record_id"] == clip["record_id"] == v["id"]
    assert agent.store.in_outbox(snap["id"]) and agent.store.in_outbox(clip["id"])
    image = cv2.imread(snap["path"])
    assert image.shape == (480, 640, 3)
    # the box is drawn in red around the face
    px1, py1 = int(x1 * 640), int(y1 * 480)
    red = image[max(0, py1 - 2):py1 + 3, px1:int(x2 * 640)]
    assert ((red[..., 2] > 180) & (red[..., 1] < 80)).mean() > 0.3
    capture = cv2.VideoCapture(clip["path"])
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(4.0)
    assert 20 <= frames <= 26  # 3 s pre-roll + 3 s post-roll at 4 frames/s

    counters = worker.source.counters
    assert counters.frames_read == 290 and counters.frames_analysed == 58 and counters.frames_dropped == 0
    timings = worker.pipeline.timings
    assert timings.detected_frames < timings.frames  # the idle start and end were gated


def test_an_idle_kitchen_runs_no_detection(tmp_path: Path, models: VisionModels,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    video = write_video(tmp_path / "idle.avi", Script.idle(20), fps=10)
    config = vision_config(tmp_path, [{"id": "cam1", "url": str(video)}])
    agent = make_agent(config, ManualClock(START), monkeypatch, models)
    worker = worker_for(agent, "cam1", models, realtime=False)
    with running(worker):
        assert wait_for(worker.source.ended.is_set, 30)
        assert wait_for(lambda: worker.pipeline.timings.frames == 40, 5)
    assert worker.pipeline.timings.detected_frames == 0
    assert payloads(agent, "vision_violation") == []


def test_outside_working_hours_nothing_is_judged(tmp_path: Path, models: VisionModels,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    video = write_video(tmp_path / "scene.avi", Script.busy(10, "without_mask"), fps=10)
    config = vision_config(tmp_path, [{"id": "cam1", "url": str(video),
                                       "working_hours": {"start": "11:00", "end": "13:00"}}])
    agent = make_agent(config, ManualClock(START), monkeypatch, models)
    worker = worker_for(agent, "cam1", models, realtime=False)
    with running(worker):
        assert wait_for(worker.source.ended.is_set, 30)
        assert wait_for(lambda: worker.pipeline.timings.frames == 20, 5)
    assert worker.pipeline.timings.detected_frames == 0
    assert payloads(agent, "vision_violation") == []


# --- live cameras, commands, health, isolation -------------------------------------------


@pytest.fixture
def camera_server() -> Iterator[MjpegServer]:
    server = MjpegServer(Script.busy(600, "with_mask"), fps=10)
    server.plug()
    yield server
    server.unplug()


def test_unplugged_camera_raises_camera_offline_and_recovers(
        tmp_path: Path, models: VisionModels, monkeypatch: pytest.MonkeyPatch,
        camera_server: MjpegServer) -> None:
    config = vision_config(tmp_path, [{"id": "cam1", "url": camera_server.url, "silent_after_s": 1.5}])
    agent = make_agent(config, ManualClock(START), monkeypatch, models)
    worker = worker_for(agent, "cam1", models, realtime=None)
    with running(worker):
        assert wait_for(lambda: worker.source.counters.frames_analysed >= 3, 20)
        assert wait_for(lambda: worker.pipeline.tracker.active, 20)  # the cook is tracked
        camera_server.unplug()
        assert wait_for(lambda: agent.store.alarm_is_open("camera_offline|camera_id=cam1"), 20)
        assert agent.devices.snapshot()["cam1"]["state"] == "offline"
        assert not worker.pipeline.tracker.active
        analysed = worker.source.counters.frames_analysed
        camera_server.plug()
        assert wait_for(lambda: not agent.store.alarm_is_open("camera_offline|camera_id=cam1"), 25)
        assert wait_for(lambda: worker.source.counters.frames_analysed > analysed + 2, 15)
        assert agent.devices.snapshot()["cam1"]["state"] == "ok"
    alarms = [(a["data"]["kind"], a["data"]["state"]) for a in payloads(agent, "alarm")]
    assert alarms == [("camera_offline", "raised"), ("camera_offline", "cleared")]
    assert worker.source.counters.reconnects >= 1


def test_snapshot_and_live_commands(tmp_path: Path, models: VisionModels,
                                    monkeypatch: pytest.MonkeyPatch, camera_server: MjpegServer) -> None:
    config = vision_config(tmp_path, [{"id": "cam1", "url": camera_server.url}], live_fps=5)
    agent = make_agent(config, ManualClock(START), monkeypatch, models)
    sent: list[tuple[str, bytes]] = []
    agent.uplink.publish_live = lambda suffix, payload: sent.append((suffix, payload)) or True
    handlers = agent.command_handlers
    assert {"snapshot", "start_live", "stop_live"} <= set(handlers)
    worker, live = agent.vision_workers["cam1"], agent.vision_live
    with pytest.raises(CommandError, match="unknown camera"):
        handlers["snapshot"]({"camera_id": "nope"})
    with running(worker):
        assert wait_for(lambda: worker.source.latest() is not None, 20)
        result = handlers["snapshot"]({"camera_id": "cam1"})
        info = agent.store.media_info(result["media"]["id"])
        assert info["role"] == "snapshot" and info["content_type"] == "image/jpeg"
        assert cv2.imread(info["path"]).shape == (480, 640, 3)

        started = handlers["start_live"]({"camera_id": "cam1", "seconds": 1.5, "fps": 50})
        assert started["fps"] == 5 and started["topic"] == "live/cam1"
        with running(live, join_s=5):
            assert wait_for(lambda: len(sent) >= 4, 10)
            assert wait_for(lambda: "cam1" not in live.sessions, 10)  # bounded in time
            count = len(sent)
            time.sleep(0.5)
            assert len(sent) == count and count <= 1.5 * 5 + 2
            handlers["start_live"]({"camera_id": "cam1", "seconds": 60})
            assert wait_for(lambda: len(sent) > count, 10)
            assert handlers["stop_live"]({"camera_id": "cam1"})["stopped"] is True
    assert {suffix for suffix, _ in sent} == {"live/cam1"}
    frame = cv2.imdecode(np.frombuffer(sent[0][1], np.uint8), cv2.IMREAD_COLOR)
    assert frame.shape == (480, 640, 3)
    with pytest.raises(CommandError, match="seconds"):
        handlers["start_live"]({"camera_id": "cam1", "seconds": -1})


def test_a_crashing_camera_worker_does_not_stop_the_others(
        tmp_path: Path, models: VisionModels, monkeypatch: pytest.MonkeyPatch,
        camera_server: MjpegServer) -> None:
    config = vision_config(tmp_path, [{"id": "good", "url": camera_server.url},
                                      {"id": "bad", "url": camera_server.url}])
    agent = make_agent(config, ManualClock(START), monkeypatch, models)
    good, bad = agent.vision_workers["good"], agent.vision_workers["bad"]

    def broken(frame: object) -> None:
        raise RuntimeError("simulated analysis bug")

    monkeypatch.setattr(bad.pipeline, "analyse", broken)
    supervisor = Supervisor(min_backoff_s=0.1, max_backoff_s=0.2)
    supervisor.start(good)
    supervisor.start(bad)
    try:
        assert wait_for(lambda: supervisor.restarts["vision-bad"] >= 2, 30)
        analysed = good.source.counters.frames_analysed
        assert wait_for(lambda: good.source.counters.frames_analysed >= analysed + 4, 20)
        assert supervisor.restarts["vision-good"] == 0
    finally:
        supervisor.stop()
