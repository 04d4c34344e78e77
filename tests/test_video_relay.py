"""Stream relay with real parts: signed commands, FFmpeg, the RTSP camera, nginx-rtmp."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.app import Agent
from agent.config_file.loader import load_config
from simulator.devices.cameras import RtspCamera
from simulator.platform.broker import Broker, free_port
from simulator.platform.commands import public_key_b64
from simulator.platform.media_server import MediaServer
from simulator.platform.platform import Platform

from .fixtures_mqtt import broker_fixture, platform_fixture, wait_until  # noqa: F401
from .fixtures_video import (  # noqa: F401
    AGENT,
    ffprobe,
    media_server_fixture,
    rtsp_camera_fixture,
    video_agent_config,
    wait_agent_online,
)


def stream(agent: Agent, stream_id: str) -> dict[str, Any] | None:
    return next((s for s in agent.video.status()["streams"] if s["stream_id"] == stream_id), None)


def test_start_stream_by_signed_command_reaches_the_media_server(
        tmp_path: Path, broker: Broker, platform: Platform, media_server: MediaServer,
        rtsp_camera: RtspCamera) -> None:
    key = Ed25519PrivateKey.generate()
    config = video_agent_config(tmp_path, broker.port, [{"id": "kitchen-1", "url": rtsp_camera.url,
                                                         "record": False}],
                                platform_public_key=public_key_b64(key), max_streams=1)
    agent = Agent(load_config(config, {}))
    agent.start()
    try:
        wait_agent_online(platform)
        unsigned = platform.send_command(AGENT, "start_stream", {
            "camera_id": "kitchen-1", "target": media_server.publish_url("k1"), "duration_s": 4})
        assert not unsigned["ok"] and "signature" in unsigned["error"]
        answer = platform.send_command(AGENT, "start_stream", {
            "camera_id": "kitchen-1", "target": media_server.publish_url("k1"), "duration_s": 4}, sign_with=key)
        assert answer["ok"], answer
        stream_id = answer["result"]["stream_id"]
        assert media_server.wait_publishing("k1"), "the relay never reached the media server"
        status = platform.send_command(AGENT, "get_status", sign_with=key)["result"]["video"]
        assert status["streams"][0]["state"] == "streaming"
        over_cap = platform.send_command(AGENT, "start_stream", {
            "camera_id": "kitchen-1", "target": media_server.publish_url("k2"), "duration_s": 4}, sign_with=key)
        assert not over_cap["ok"] and "stream cap reached: 1 of 1" in over_cap["error"]
        wait_until(lambda: (s := stream(agent, stream_id)) and (s["bitrate_kbps"] or 0) > 0, timeout=5,
                   message="a bandwidth figure in the status")
        wait_until(lambda: stream(agent, stream_id) is None, timeout=15, message="the relay ended on its duration")
        assert agent.video.relay.finished[-1]["state"] == "ended"
        assert media_server.wait_publishing("k1", present=False)
    finally:
        agent.stop()
    probe = ffprobe(media_server.recording("k1"))
    assert (probe["codec"], probe["width"], probe["height"]) == ("h264", 320, 240)
    assert abs(probe["duration_s"] - 4.0) <= 0.4, probe  # copied as sent: within 10 % of the duration


def test_refusals_say_why_and_a_dead_target_is_target_refused(
        tmp_path: Path, broker: Broker, platform: Platform, rtsp_camera: RtspCamera) -> None:
    config = video_agent_config(tmp_path, broker.port, [{"id": "kitchen-1", "url": rtsp_camera.url,
                                                         "record": False}])
    agent = Agent(load_config(config, {}))
    agent.start()
    try:
        wait_agent_online(platform)
        bad = platform.send_command(AGENT, "start_stream", {"camera_id": "kitchen-1", "target": "file:///etc/x",
                                                            "duration_s": 5})
        assert not bad["ok"] and "scheme 'file' not allowed" in bad["error"]
        unknown = platform.send_command(AGENT, "start_stream", {"camera_id": "hall", "target": "rtmp://h/x",
                                                                "duration_s": 5})
        assert not unknown["ok"] and "unknown video camera 'hall'" in unknown["error"]
        nobody = f"rtmp://127.0.0.1:{free_port()}/live/k1"  # nothing listens there
        answer = platform.send_command(AGENT, "start_stream", {"camera_id": "kitchen-1", "target": nobody,
                                                               "duration_s": 30})
        assert answer["ok"], answer
        stream_id = answer["result"]["stream_id"]
        wait_until(lambda: (s := stream(agent, stream_id)) and s["state"] == "target_refused", timeout=15,
                   message="target_refused")
        stopped = platform.send_command(AGENT, "stop_stream", {"stream_id": stream_id})
        assert stopped["ok"] and stopped["result"]["stopped"] == [stream_id]
        again = platform.send_command(AGENT, "stop_stream", {"stream_id": stream_id})
        assert not again["ok"] and "no running stream" in again["error"]
    finally:
        agent.stop()


def test_camera_killed_mid_relay_is_reconnected_within_the_back_off(
        tmp_path: Path, broker: Broker, media_server: MediaServer, rtsp_camera: RtspCamera) -> None:
    config = video_agent_config(tmp_path, broker.port, [{"id": "kitchen-1", "url": rtsp_camera.url, "record": False,
                                                         "relay_to": media_server.publish_url("k1")}])
    agent = Agent(load_config(config, {}))
    agent.start()
    try:
        assert media_server.wait_publishing("k1"), "the continuous relay never started"
        relay = agent.video.status()["streams"][0]
        assert relay["continuous"] and relay["state"] == "streaming"
        rtsp_camera.kill()
        wait_until(lambda: agent.video.status()["streams"][0]["state"] in ("source_lost", "connecting"),
                   timeout=15, message="the relay notices the camera is gone")
        rtsp_camera.start()
        back = time.monotonic()
        # back-off at most 2 s, then a fresh FFmpeg: open (1 s probe) and publish
        assert media_server.wait_publishing("k1", timeout=12), "not relayed again after the camera came back"
        assert time.monotonic() - back < 12
        wait_until(lambda: agent.video.status()["streams"][0]["state"] == "streaming", timeout=5,
                   message="streaming again")
        assert agent.video.status()["streams"][0]["restarts"] >= 1
    finally:
        agent.stop()
