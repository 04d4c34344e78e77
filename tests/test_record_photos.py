"""Photos on station records (issue 16 item 3), with real parts: a real agent, a badge
reader and a scale on pseudo-terminals, the simulated IP camera (MJPEG over HTTP, or RTSP
from GStreamer), the reference platform on a real Mosquitto.

* a food sample at a station whose camera the vision worker reads carries the camera's
  picture of that moment: the platform stores the record and the ``photo`` media object
  linked to it, re-hashed from its own disk;
* a camera that is down leaves the record saved without the photo, promptly, and says so;
* a camera nobody decodes (only recorded, ``video.cameras``) is grabbed once by FFmpeg:
  the record does not wait for it and the photo follows, linked to the record; one its
  recorder has lost takes no photo, and the record is saved at once;
* each station kind (food sample, receiving, leader meal, morning check) attaches the
  picture of its record's moment, through the same path as the console's uploads;
* a photo the agent cannot store never costs the record;
* a record and its photo are committed together: a record that cannot be committed leaves
  no photo behind (no media row, no file, nothing queued for the platform);
* a station naming a camera nobody declared is a config error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from agent.app import Agent
from agent.config.devices import CameraConfig
from agent.config_file.model import AgentConfig
from agent.core.feedback import MemoryOutput
from agent.core.recorder import Photo, Recorder
from agent.core.timeutil import ManualClock
from agent.records.envelope import PhotoNote
from agent.records.food_sample import FoodSample
from agent.store import Store, StoreWriteError
from agent.vision.camera import CameraSource
from agent.wiring.photos import station_cameras
from simulator.devices.cameras import MjpegServer, RtspCamera, Script
from simulator.devices.serial_devices import ScaleSim, SerialBadgeSim
from simulator.platform.platform import Platform
from tests.conftest import TZ, make_config
from tests.fixtures_mqtt import broker_fixture, platform_fixture  # noqa: F401
from tests.fixtures_serial_stations import LEADER, STAFF, ZHANG, Rig, station_config
from tests.fixtures_video import rtsp_camera_fixture  # noqa: F401
from tests.helpers.components import running

pytestmark = pytest.mark.timeout(120)
FAST = {"reconnect_s": 0.05, "reconnect_max_s": 0.2}
ALL_DAY = {"lunch": {"start": "00:00", "end": "23:59"}}  # the real clock is in a meal window, whenever this runs


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def camera() -> Iterator[MjpegServer]:
    server = MjpegServer(Script.idle(600), fps=10, faces={})  # the empty kitchen: no data set needed
    server.plug()
    yield server
    server.unplug()


class Kitchen:
    """A food-sample station (badge + scale on PTYs) naming camera ``cam-1``, the agent, its screen."""

    def __init__(self, tmp_path: Path, broker_port: int, *, cameras: list[dict[str, Any]] | None = None,
                 video_cameras: list[dict[str, Any]] | None = None, **photos: Any) -> None:
        self.badge = SerialBadgeSim(link_path=tmp_path / "badge-fs").start()
        self.scale = ScaleSim("ad_ascii", link_path=tmp_path / "scale-fs", unit="g").start()
        config = make_config(
            tmp_path,
            broker={"host": "127.0.0.1", "port": broker_port, "reconnect_min_s": 0.2, "reconnect_max_s": 2},
            devices=[{"id": "badge-fs", "kind": "badge_reader", "protocol": "serial_line",
                      "port": self.badge.path, **FAST},
                     {"id": "scale-fs", "kind": "scale", "protocol": "ad_ascii", "port": self.scale.path, **FAST}],
            stations=[{"id": "fs-1", "kind": "food_sample", "badge": "badge-fs", "scale": "scale-fs",
                       "camera": "cam-1"}],
            site={"staff": STAFF, "menu": [{"name": "番茄炒蛋"}, {"name": "红烧肉"}]},
            schedules={"meals": ALL_DAY},
            cameras=cameras or [],
            vision={"site_dir": str(tmp_path / "site"), "enabled": bool(cameras)},
            video={"dir": str(tmp_path / "video"), "cameras": video_cameras or []},
            photos=photos)
        self.agent = Agent(config)
        self.screen = MemoryOutput()
        self.agent.feedback.add_output(self.screen)
        self.agent.start()
        wait_until(lambda: all(self.agent.devices.snapshot().get(d, {}).get("state") == "ok"
                               for d in ("badge-fs", "scale-fs")), "badge and scale ok")

    def close(self) -> None:
        self.agent.stop()
        self.badge.stop()
        self.scale.stop()

    def sample(self, grams: float) -> float:
        """Badge, weigh; returns the monotonic time the station said the sample was kept."""
        mark = len(self.screen.messages)
        self.badge.scan(ZHANG)
        assert self.screen.wait_for(lambda m: "留样" in m.text, 10, mark)
        self.scale.place(grams)
        said = self.screen.wait_for(lambda m: f"{grams:.0f} g 合格" in m.text, 10, mark)
        assert said is not None, self.screen.texts("fs-1")
        return time.monotonic()


def stored_media(platform: Platform, media_id: str) -> dict[str, Any]:
    return wait_until(lambda: next((m for m in platform.media_files() if m["id"] == media_id), None),
                      f"media {media_id} on the platform")


def platform_record(platform: Platform, type_: str, timeout: float = 20.0) -> dict[str, Any]:
    return wait_until(lambda: next(iter(platform.records(type=type_)), None), f"{type_} on the platform", timeout)


def decoded(path: str) -> np.ndarray:
    image = cv2.imread(path)
    assert image is not None, f"{path} is not a picture"
    return image


def test_a_photo_on_a_food_sample_arrives_with_the_record(tmp_path, broker, platform, camera):
    kitchen = Kitchen(tmp_path, broker.port, cameras=[{"id": "cam-1", "url": camera.url}])
    try:
        feed = kitchen.agent.cameras()["cam-1"]
        wait_until(lambda: feed.latest() is not None, "the camera's first frame")
        kitchen.sample(131.0)
        record = platform_record(platform, "food_sample")
    finally:
        kitchen.close()
    assert record["data"]["grams"] == 131.0 and record["verdict"] == "pass"
    assert record["photo"]["camera_id"] == "cam-1" and record["photo"]["state"] == "attached"
    assert record["photo"]["reason"] is None and record["photo"]["taken_at"]
    [ref] = record["media"]
    assert ref["role"] == "photo" and ref["content_type"] == "image/jpeg"
    media = stored_media(platform, ref["id"])
    assert media["record_id"] == record["id"] and media["role"] == "photo"
    content = Path(media["path"]).read_bytes()  # the platform's own copy, re-hashed
    assert hashlib.sha256(content).hexdigest() == ref["sha256"] == media["sha256"]
    assert len(content) == ref["bytes"] == media["bytes"]
    # it is the camera's picture: the simulated kitchen, full size, up to JPEG's loss
    photo = decoded(media["path"])
    assert photo.shape == camera.scene.background.shape
    assert float(np.mean(cv2.absdiff(photo, camera.scene.background))) < 8.0


def test_a_camera_that_is_down_leaves_the_record_saved_without_it(tmp_path, broker, platform, camera, caplog):
    caplog.set_level(logging.INFO)
    kitchen = Kitchen(tmp_path, broker.port, cameras=[{"id": "cam-1", "url": camera.url}], max_age_s=1.0)
    try:
        feed = kitchen.agent.cameras()["cam-1"]
        wait_until(lambda: feed.latest() is not None, "the camera's first frame")
        camera.unplug()
        wait_until(lambda: feed.state != "ok" and feed.silent_for() > 1.0, "the agent to see the camera down")
        said_at = kitchen.sample(131.0)
        record = platform_record(platform, "food_sample", timeout=10)
        reached_s = time.monotonic() - said_at
        local = kitchen.agent.store.query("SELECT id FROM media")
    finally:
        kitchen.close()
    assert record["data"]["grams"] == 131.0 and record["verdict"] == "pass"
    assert record["photo"] == {"camera_id": "cam-1", "state": "unavailable", "reason": "camera_down",
                               "taken_at": None}
    assert record["media"] == []
    assert reached_s < 5.0, f"the record took {reached_s:.1f} s to reach the platform"
    assert [dict(r) for r in local] == []  # no photo half-made in the agent's store either
    assert platform.media_files() == []
    assert (f"station record without photo station=fs-1 camera=cam-1 record={record['id']} reason=camera_down"
            in caplog.text)


def test_a_camera_nobody_decodes_is_grabbed_once_and_its_photo_follows_the_record(
        tmp_path, broker, platform, rtsp_camera: RtspCamera):
    # only recorded (its FFmpeg copies the stream, never decodes it): one FFmpeg grab per record;
    # wait_ms 0: the record is committed at once, the photo follows it
    kitchen = Kitchen(tmp_path, broker.port, video_cameras=[{"id": "cam-1", "url": rtsp_camera.url}], wait_ms=0)
    try:
        kitchen.sample(131.0)
        record = platform_record(platform, "food_sample")
        media = wait_until(lambda: next((m for m in platform.media_files() if m["role"] == "photo"), None),
                           "the photo on the platform")
    finally:
        kitchen.close()
    assert record["photo"] == {"camera_id": "cam-1", "state": "pending", "reason": None, "taken_at": None}
    assert record["media"] == []  # committed before the picture existed: it names no media
    assert media["record_id"] == record["id"] and media["content_type"] == "image/jpeg"
    assert hashlib.sha256(Path(media["path"]).read_bytes()).hexdigest() == media["sha256"]
    assert decoded(media["path"]).shape[:2] == (240, 320)  # the RTSP camera's own size


def test_a_recorded_camera_that_is_down_leaves_the_record_saved_at_once(
        tmp_path, broker, platform, rtsp_camera: RtspCamera):
    kitchen = Kitchen(tmp_path, broker.port, video_cameras=[{"id": "cam-1", "url": rtsp_camera.url}])
    recorder = kitchen.agent.video_capability.recorder_states()["cam-1"]
    try:
        wait_until(lambda: recorder() == "streaming", "the recorder streaming")
        rtsp_camera.stop()
        wait_until(lambda: recorder() == "source_lost", "the recorder to lose the camera")
        said_at = kitchen.sample(131.0)
        record = platform_record(platform, "food_sample", timeout=10)
        reached_s = time.monotonic() - said_at
        local = kitchen.agent.store.query("SELECT id FROM media")
    finally:
        kitchen.close()
    assert record["photo"] == {"camera_id": "cam-1", "state": "unavailable", "reason": "camera_down",
                               "taken_at": None}
    assert record["media"] == [] and list(local) == [] and platform.media_files() == []
    assert reached_s < 5.0, f"the record took {reached_s:.1f} s to reach the platform"


def test_a_station_naming_an_undeclared_camera_is_a_config_error(tmp_path):
    devices = [{"id": "badge-fs", "kind": "badge_reader", "port": "/dev/null-b"},
               {"id": "scale-fs", "kind": "scale", "port": "/dev/null-s"}]

    def config(camera: str, **sections: Any) -> AgentConfig:
        return make_config(tmp_path, devices=devices, stations=[
            {"id": "fs-1", "kind": "food_sample", "badge": "badge-fs", "scale": "scale-fs", "camera": camera}],
            **sections)

    with pytest.raises(ValidationError, match=r"station 'fs-1': camera 'cam-9' is not a declared camera "
                                              r"\(cameras: or video.cameras; known: cam-1, cam-2\)"):
        config("cam-9", cameras=[{"id": "cam-1", "url": "http://127.0.0.1:1/video"}],
               video={"cameras": [{"id": "cam-2", "url": "rtsp://127.0.0.1:1/cam"}]})
    with pytest.raises(ValidationError, match="known: none declared"):
        config("cam-1")
    with pytest.raises(ValidationError, match=r"known: cam-kitchen; did you mean 'cam-kitchen'\?\)"):
        config("cam-kitchn", cameras=[{"id": "cam-kitchen", "url": "http://127.0.0.1:1/video"}])
    # either list will do: an analysed camera, or one that is only recorded
    assert config("cam-1", cameras=[{"id": "cam-1", "url": "http://127.0.0.1:1/video"}]).stations[0].camera == "cam-1"
    recorded = config("cam-2", video={"cameras": [{"id": "cam-2", "url": "rtsp://127.0.0.1:1/cam"}]})
    assert recorded.stations[0].camera == "cam-2"


# --- every station kind, on the workflows' bus (ManualClock) with a live camera -----------------


@pytest.fixture
def live_feed(camera: MjpegServer) -> Iterator[CameraSource]:
    """The camera's decode thread, as the vision worker runs it."""
    source = CameraSource(CameraConfig(id="cam-1", url=camera.url), now=lambda: datetime.now(TZ))
    with running(source):
        wait_until(lambda: source.latest() is not None, "the camera's first frame")
        yield source


STATIONS = {
    "food_sample": ({"kind": "food_sample", "badge": "badge-1", "scale": "scale-1"}, "food_sample"),
    "receiving": ({"kind": "receiving", "badge": "badge-1", "scale": "scale-1", "keypad": "keypad-1"},
                  "ingredient_purchase"),
    "leader_meal": ({"kind": "checkin", "badge": "badge-1"}, "leader_meal"),
    "morning_check": ({"kind": "morning_check", "badge": "badge-1", "thermometer": "thermo-1"},
                      "staff_health_check"),
}


def perform(rig: Rig, kind: str) -> None:
    """What a person does at the station, up to its record."""
    if kind == "food_sample":
        rig.badge(ZHANG)
        rig.weight(131.0)
    elif kind == "receiving":
        rig.badge(ZHANG)
        for typed in ("成都蔬菜公司", "西红柿", "0", "0", "0"):
            rig.text(typed)
        rig.weight(12_500.0)
    elif kind == "leader_meal":
        rig.badge(LEADER)
    else:
        rig.badge(ZHANG)
        rig.temperature(36.6)


@pytest.mark.parametrize("kind", list(STATIONS))
def test_each_station_kind_attaches_the_picture_of_its_record(tmp_path, morning, camera, live_feed, kind, caplog):
    caplog.set_level(logging.DEBUG)
    station, record_type = STATIONS[kind]
    config = station_config(tmp_path, {**station, "camera": "cam-1"}, cameras=[{"id": "cam-1", "url": camera.url}],
                            site={"suppliers": {"成都蔬菜公司": "2027-05-01"}})
    rig = Rig(config, morning, station_cameras(config, {"cam-1": live_feed}, lambda: morning))
    try:
        perform(rig, kind)
        [record] = rig.records(record_type)
        [ref] = record["media"]
        info = rig.store.media_info(ref["id"])
    finally:
        rig.close()
    assert record["photo"]["state"] == "attached" and record["photo"]["camera_id"] == "cam-1"
    assert ref["role"] == "photo" and info["record_id"] == record["id"] and info["role"] == "photo"
    content = Path(info["path"]).read_bytes()
    assert hashlib.sha256(content).hexdigest() == ref["sha256"] == info["sha256"]
    assert decoded(info["path"]).shape == camera.scene.background.shape
    assert f"station record photo station=st-1 camera=cam-1 record={record['id']} photo=attached" in caplog.text
    assert "36.6" not in caplog.text  # the photo's log lines carry no health data


def test_a_photo_the_store_cannot_take_never_costs_the_record(tmp_path, morning, camera, live_feed):
    config = station_config(tmp_path, {**STATIONS["food_sample"][0], "camera": "cam-1"},
                            cameras=[{"id": "cam-1", "url": camera.url}])
    rig = Rig(config, morning, station_cameras(config, {"cam-1": live_feed}, lambda: morning))
    try:
        # the day's media folder cannot be made (a file is in its way): the JPEG has nowhere to go
        config.store.media_dir.mkdir(parents=True, exist_ok=True)
        (config.store.media_dir / morning.date().isoformat()).write_text("in the way")
        perform(rig, "food_sample")
        [record] = rig.records("food_sample")
        media = rig.store.query("SELECT id FROM media")
    finally:
        rig.close()
    assert record["data"]["grams"] == 131.0 and record["verdict"] == "pass"
    assert record["photo"] == {"camera_id": "cam-1", "state": "unavailable", "reason": "not_stored", "taken_at": None}
    assert record["media"] == [] and list(media) == []
    assert "131 g 合格" in rig.said()[-1]


# --- the record and its photo are committed together --------------------------------------------


@pytest.fixture
def recorder(config: AgentConfig, morning: datetime) -> Iterator[Recorder]:
    store = Store(config.store.path, config.store.media_dir)
    yield Recorder(config, store, ManualClock(morning))
    store.close()


def jpeg_photo() -> Photo:
    ok, jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), 128, np.uint8))
    assert ok
    return Photo(jpeg.tobytes(), "image/jpeg", ".jpg")


def sample(morning: datetime, dish: str = "番茄炒蛋") -> FoodSample:
    return FoodSample(meal="lunch", dish=dish, grams=131.0, min_grams=125.0, sampled_at=morning,
                      kept_until=morning + timedelta(hours=48))


def media_files(store: Store) -> list[Path]:
    return [p for p in store.media_dir.rglob("*") if p.is_file()]


def test_a_record_and_its_photo_are_committed_together_linked(recorder: Recorder, morning: datetime):
    photo = jpeg_photo()
    commits = recorder.store.writer.commits
    saved = recorder.record_with_photo(sample(morning), photo)
    assert recorder.store.writer.commits == commits + 1  # one transaction holds both
    [ref] = json.loads(saved.payload)["media"]
    info = recorder.store.media_info(ref["id"])
    assert info["record_id"] == saved.id and info["role"] == "photo"
    assert Path(info["path"]).read_bytes() == photo.content
    assert hashlib.sha256(photo.content).hexdigest() == ref["sha256"] == info["sha256"]
    assert media_files(recorder.store) == [Path(info["path"])]  # no temp file left beside it
    assert [(i.kind, i.id) for i in recorder.store.outbox_next(10)] == [("record", saved.id), ("media", ref["id"])]


@pytest.mark.parametrize("photo_note", [None, PhotoNote(camera_id="cam-1", state="unavailable")],
                         ids=["a person's upload", "a station's photo"])
def test_a_record_that_cannot_be_committed_leaves_no_photo_behind(recorder: Recorder, morning: datetime,
                                                                  photo_note: PhotoNote | None):
    store = recorder.store
    # The database may not grow any more (what a full disk does to it): a small row still fits
    # its pages, the record's large payload does not.
    store.write(lambda conn: conn.execute(
        "PRAGMA max_page_count = " + str(conn.execute("PRAGMA page_count").fetchone()[0])))
    with pytest.raises(StoreWriteError, match="not saved"):
        recorder.record_with_photo(sample(morning, dish="x" * 20_000), jpeg_photo(), photo_note=photo_note)
    store.write(lambda conn: conn.execute("PRAGMA max_page_count = 1073741823"))
    assert list(store.query("SELECT id FROM records")) == [] and list(store.query("SELECT id FROM media")) == []
    assert media_files(store) == []
    assert store.outbox_next(10) == []  # nothing for the uplink to send
    held = recorder.storage.pending
    assert held is not None and held.failed_writes == 1  # storage_failed is held, as for any record
