"""A violation's evidence in the store: the record, its snapshot and clip, the alarm.

The collector is driven directly (no models, no decoding): a real store and Recorder, a
real frame ring of drawn frames, a ``Raised`` as compliance hands it over.

* the record and its media are committed together, linked, and queued; the alarm carries
  the same media refs;
* a record that cannot be committed leaves no evidence behind (no media row, no file,
  nothing queued for the platform), and the failure is held as ``storage_failed``;
* with the vision share of the disk budget full, the clip is skipped and the snapshot kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.config_file.model import AgentConfig
from agent.core.recorder import Recorder
from agent.core.timeutil import ManualClock
from agent.store import Store, StoreWriteError
from agent.vision.camera import FrameRing
from agent.vision.compliance import Raised
from agent.vision.evidence import CLIP_CONTENT_TYPE, EvidenceCollector
from tests.conftest import make_config

RAISED_T = 6.0  # seconds into the camera's timeline
FACE = (260.0, 120.0, 360.0, 240.0)  # the violator's box in the 640x480 frame
OTHER = (60.0, 100.0, 140.0, 200.0)  # someone else in view


@pytest.fixture
def config(tmp_path: Path) -> AgentConfig:
    return make_config(tmp_path, vision={"site_dir": str(tmp_path / "site"), "pre_roll_s": 3,
                                         "post_roll_s": 3, "clip_fps": 4})


@pytest.fixture
def recorder(config: AgentConfig, morning: datetime) -> Iterator[Recorder]:
    store = Store(config.store.path, config.store.media_dir)
    yield Recorder(config, store, ManualClock(morning))
    store.close()


def frame(t: float) -> np.ndarray:
    """A kitchen-ish frame that changes over time, with two face-sized patches."""
    image = np.full((480, 640, 3), 90, np.uint8)
    cv2.rectangle(image, (int(20 * t), 300), (int(20 * t) + 120, 420), (40, 160, 200), -1)
    for x1, y1, x2, y2 in (FACE, OTHER):
        cv2.ellipse(image, (int((x1 + x2) / 2), int((y1 + y2) / 2)), (int((x2 - x1) / 2), int((y2 - y1) / 2)),
                    0, 0, 360, (150, 180, 220), -1)
    return image


def collector(recorder: Recorder, camera_id: str = "cam1", disk_budget_bytes: int = 10**9) -> EvidenceCollector:
    vision = recorder.config.vision
    ring = FrameRing(vision.pre_roll_s + vision.post_roll_s + 2, vision.clip_fps, vision.clip_max_side)
    at = recorder.now()
    t = 0.0
    while t <= RAISED_T + vision.post_roll_s:  # the pre-roll and the post-roll are buffered
        ring.add(t, at + timedelta(seconds=t), frame(t))
        t += 1 / vision.clip_fps
    evidence = EvidenceCollector(recorder, camera_id, vision, ring, disk_budget_bytes)
    at_raise = at + timedelta(seconds=RAISED_T)
    evidence.begin(Raised(track_id=1, kind="no_mask", started_t=RAISED_T - 5, started_at=at_raise - timedelta(seconds=5),
                          t=RAISED_T, at=at_raise, seen_s=5.0, confidence=0.93, box=FACE),
                   frame(RAISED_T), [(1, FACE), (2, OTHER)])
    return evidence


def payloads(store: Store, type_: str) -> list[dict]:
    return [json.loads(r["payload"]) for r in store.query("SELECT payload FROM records WHERE type=? ORDER BY seq",
                                                         (type_,))]


def media_files(store: Store) -> list[Path]:
    return sorted(p for p in store.media_dir.rglob("*") if p.is_file())


def test_the_record_and_its_snapshot_and_clip_are_committed_together_linked(recorder: Recorder):
    store = recorder.store
    evidence = collector(recorder)
    commits = store.writer.commits
    [done] = evidence.poll(RAISED_T + 3)
    assert store.writer.commits == commits + 2  # the record with its media, then the alarm

    [violation] = payloads(store, "vision_violation")
    assert violation["id"] == done.record_id and violation["data"]["camera_id"] == "cam1"
    assert [m["role"] for m in violation["media"]] == ["snapshot", "clip"]
    assert violation["media"] == [ref.model_dump() for ref in done.media]
    [alarm] = payloads(store, "alarm")
    assert alarm["id"] == done.alarm_id and alarm["media"] == violation["media"]
    assert alarm["data"]["details"]["record_id"] == violation["id"] and "clip" not in alarm["data"]["details"]

    paths = []
    for ref, content_type in zip(violation["media"], ("image/jpeg", CLIP_CONTENT_TYPE), strict=True):
        info = store.media_info(ref["id"])
        assert info["record_id"] == violation["id"] and info["role"] == ref["role"]
        assert info["content_type"] == ref["content_type"] == content_type
        content = Path(info["path"]).read_bytes()
        assert len(content) == ref["bytes"] == info["bytes"]
        assert hashlib.sha256(content).hexdigest() == ref["sha256"] == info["sha256"]
        paths.append(Path(info["path"]))
    assert media_files(store) == sorted(paths)  # no temp file left beside them
    assert cv2.imread(str(paths[0])).shape == (480, 640, 3)
    capture = cv2.VideoCapture(str(paths[1]))
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert frames == 25  # 3 s pre-roll + 3 s post-roll at 4 frames/s, both ends included
    queued = {(i.kind, i.id) for i in store.outbox_next(10)}
    assert queued == {("record", violation["id"]), ("alarm", alarm["id"]),
                      *(("media", ref["id"]) for ref in violation["media"])}


def test_a_record_that_cannot_be_committed_leaves_no_evidence_behind(recorder: Recorder):
    store = recorder.store
    # A long camera id makes the record large (its payload names it twice) while the media
    # rows stay small. The database may not grow any more (what a full disk does to it):
    # the small rows would still fit its pages, the record does not.
    evidence = collector(recorder, camera_id="cam-" + "x" * 20_000)
    store.write(lambda conn: conn.execute(
        "PRAGMA max_page_count = " + str(conn.execute("PRAGMA page_count").fetchone()[0])))
    with pytest.raises(StoreWriteError, match="not saved"):
        evidence.poll(RAISED_T + 3)
    store.write(lambda conn: conn.execute("PRAGMA max_page_count = 1073741823"))

    assert list(store.query("SELECT id FROM records")) == [] and list(store.query("SELECT id FROM media")) == []
    assert media_files(store) == []  # the snapshot's and the clip's files were taken back
    assert store.outbox_next(10) == []  # nothing for the uplink to send
    assert evidence.written == [] and store.open_alarms() == []
    held = recorder.storage.pending
    assert held is not None and held.failed_writes == 1  # storage_failed is held, as for any record


def test_with_the_vision_share_of_the_disk_full_the_clip_is_skipped_and_the_snapshot_kept(recorder: Recorder):
    store = recorder.store
    [done] = collector(recorder, disk_budget_bytes=0).poll(RAISED_T + 3)
    [violation] = payloads(store, "vision_violation")
    assert [m["role"] for m in violation["media"]] == ["snapshot"]
    [alarm] = payloads(store, "alarm")
    assert alarm["media"] == violation["media"] == [ref.model_dump() for ref in done.media]
    assert alarm["data"]["details"]["clip"] == "skipped: vision media share of the disk budget is full"
    info = store.media_info(violation["media"][0]["id"])
    assert info["record_id"] == violation["id"] and media_files(store) == [Path(info["path"])]
