"""明厨亮灶 live on the public side: a real FFmpeg in the public side's own process reads an
RTSP camera (the simulator's moving test pattern) and a representative's phone receives
moving pictures (MJPEG) for the camera the school marked live, none for the others; the
viewers are bounded and the camera is closed once the last one leaves. Also in Chromium."""

from __future__ import annotations

import os
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from agent.app import Agent
from agent.social.invites import Invites
from simulator.devices.cameras import RtspCamera
from tests.conftest import make_config
from tests.fixtures_console import browser_fixture  # noqa: F401
from tests.fixtures_mqtt import wait_until
from tests.fixtures_public import Device
from tests.fixtures_video import rtsp_camera_fixture  # noqa: F401

LIVE = {"enabled": True, "port": 0, "public_cameras": ["cam-1", "cam-2"], "live_cameras": ["cam-1"],
        "live_fps": 5, "live_max_side": 320, "live_viewers_per_camera": 1, "live_viewers_total": 2,
        "requests_per_min": 10_000}


@pytest.fixture(name="live_agent")
def live_agent_fixture(tmp_path: Path, rtsp_camera: RtspCamera) -> Iterator[Agent]:
    config = make_config(tmp_path, cameras=[{"id": "cam-1", "url": rtsp_camera.url},
                                            {"id": "cam-2", "url": rtsp_camera.url}], public=LIVE)
    agent = Agent(config)
    for component in agent.components:  # the public side only: no vision worker decodes these cameras
        if component.name == "public":
            agent.supervisor.start(component)
    assert agent.public.server is not None and agent.public.server.started.wait(20)
    yield agent
    agent.stop()


def representative(agent: Agent) -> Device:
    assert agent.public.server is not None
    phone = Device(f"http://127.0.0.1:{agent.public.server.port}")
    code, _ = Invites(agent.store).issue("王委员", "social", 7, "boss", agent.now())
    assert phone.post("/public/enter", {"csrf": phone.get("/public/enter").csrf(), "code": code}).status == 200
    return phone


def ffmpegs_of(pid: int | None) -> list[int]:
    """The FFmpeg processes the public side's process runs now (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        if comm == "ffmpeg" and int(rest[1]) == pid:
            found.append(int(entry.name))
    return found


def pictures(answer: Any, n: int) -> list[np.ndarray[Any, Any]]:
    """The first ``n`` JPEGs of a multipart/x-mixed-replace answer, decoded."""
    found = []
    while len(found) < n:
        length = None
        while True:
            line = answer.readline().strip().lower()
            if line.startswith(b"content-length:"):
                length = int(line.split(b":")[1])
            elif not line and length is not None:
                break
        image = cv2.imdecode(np.frombuffer(answer.read(length), np.uint8), cv2.IMREAD_COLOR)
        assert image is not None
        found.append(image)
        answer.readline()
    return found


def test_a_representative_sees_moving_pictures_of_the_live_camera_and_none_of_the_others(live_agent):
    agent = live_agent
    phone = representative(agent)
    stills = phone.get("/public/cameras")
    assert "/public/live/cam-1" in stills.body and "/public/live/cam-2" not in stills.body
    assert phone.get("/public/live/cam-2").status == 404 and phone.get("/public/live/cam-2.mjpg").status == 404
    page = phone.get("/public/live/cam-1")
    assert page.status == 200 and 'src="/public/live/cam-1.mjpg"' in page.body and "<script" not in page.body
    stranger = Device(phone.base)
    assert stranger.get("/public/live/cam-1.mjpg").status == 404  # no invite: nothing
    server = agent.public.server
    assert server is not None and ffmpegs_of(server.pid) == []  # nobody watches: the camera is not opened

    with phone.opener.open(phone.base + "/public/live/cam-1.mjpg", timeout=20) as answer:
        assert answer.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
        seen = pictures(answer, 4)
        assert all(p.shape == (240, 320, 3) for p in seen)  # the whole 320x240 frame
        assert any(cv2.absdiff(seen[0], p).mean() > 1 for p in seen[1:]), "the pictures move"
        assert len(ffmpegs_of(server.pid)) == 1
        other = representative(agent)  # one viewer per camera here: the second is told it is full
        full = other.get("/public/live/cam-1")
        assert full.status == 503 and "实时画面观看人数已满" in full.body
        with pytest.raises(urllib.error.HTTPError) as refused:
            other.opener.open(other.base + "/public/live/cam-1.mjpg", timeout=10)
        assert refused.value.code == 503
    # the phone closed the page: its place is free again and FFmpeg has closed the camera
    wait_until(lambda: ffmpegs_of(server.pid) == [], timeout=20, message="FFmpeg stopped with the last viewer")
    assert other.get("/public/live/cam-1").status == 200
    assert agent.public.refusals.snapshot()["live_full"] == 2


def test_a_live_camera_must_be_a_public_camera_and_viewers_stay_below_the_workers(tmp_path):
    with pytest.raises(ValueError, match="public.live_cameras: 'cam-1' is not in public.public_cameras"):
        make_config(tmp_path, cameras=[{"id": "cam-1", "url": "rtsp://127.0.0.1:1/cam"}],
                    public={"enabled": True, "live_cameras": ["cam-1"]})
    with pytest.raises(ValueError, match="live_viewers_total must stay below public.workers"):
        make_config(tmp_path, cameras=[{"id": "cam-1", "url": "rtsp://127.0.0.1:1/cam"}],
                    public={"enabled": True, "public_cameras": ["cam-1"], "live_cameras": ["cam-1"],
                            "workers": 4, "live_viewers_total": 4})
    off = make_config(tmp_path, cameras=[{"id": "cam-1", "url": "rtsp://127.0.0.1:1/cam"}],
                      public={"enabled": True, "public_cameras": ["cam-1"]})
    assert off.public.live_cameras == []  # off by default


def test_in_chromium_the_live_picture_changes_on_the_page(browser, live_agent):
    agent = live_agent
    phone = representative(agent)
    cookies = [{"name": c.name, "value": c.value or "", "domain": "127.0.0.1", "path": c.path} for c in phone.jar]
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.add_cookies(cookies)
    page = context.new_page()
    page.goto(phone.base + "/public/live/cam-1")
    page.wait_for_function("document.getElementById('live-view').naturalWidth === 320", timeout=20_000)
    first = page.locator("#live-view").screenshot()
    wait_until(lambda: page.locator("#live-view").screenshot() != first, timeout=20,
               message="the live picture changes in Chromium")
    context.close()
    assert os.path.exists("/proc")  # (the page ran on Linux, where the public side's process lives)
