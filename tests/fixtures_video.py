"""Video test infrastructure: a real RTSP camera, the platform's real media server, ffprobe.

    from tests.fixtures_video import ffprobe, media_server_fixture, rtsp_camera_fixture  # noqa: F401

Fixtures (function scope):
  rtsp_camera    ``simulator.devices.cameras.RtspCamera``: H.264 320x240 at 10 fps, a key frame a second
  media_server   ``simulator.platform.media_server.MediaServer``: nginx-rtmp on free ports, recording
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.devices.cameras import RtspCamera
from simulator.platform.media_server import MediaServer


def ffprobe(target: str | Path) -> dict[str, Any]:
    """Codec, size and duration of a file or stream's first video stream (what a player sees)."""
    done = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
                           "-show_entries", "stream=codec_name,width,height,nb_read_packets:format=duration",
                           "-of", "json", str(target)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"ffprobe {target}: {done.stderr.strip()}"
    data = json.loads(done.stdout)
    stream = data["streams"][0]
    return {"codec": stream["codec_name"], "width": stream["width"], "height": stream["height"],
            "frames": int(stream.get("nb_read_packets", 0)), "duration_s": float(data["format"]["duration"])}


@pytest.fixture(name="rtsp_camera")
def rtsp_camera_fixture() -> Iterator[RtspCamera]:
    camera = RtspCamera(width=320, height=240, fps=10).start()
    yield camera
    camera.stop()


@pytest.fixture(name="media_server")
def media_server_fixture(tmp_path: Path) -> Iterator[MediaServer]:
    server = MediaServer(tmp_path / "media-server").start()
    yield server
    server.stop()


def video_agent_config(tmp_path: Path, broker_port: int, cameras: list[dict[str, Any]], *,
                       platform_public_key: str | None = None, **video: Any) -> Path:
    """An agent config with only the uplink and video (2 s segments, quick back-off)."""
    import yaml

    path = tmp_path / "agent.yaml"
    data = {
        "identity": {"agent_id": AGENT, "school_id": "5101040042", "canteen_id": "k1"},
        "broker": {"host": "127.0.0.1", "port": broker_port, "reconnect_min_s": 0.2, "reconnect_max_s": 2,
                   **({"platform_public_key": platform_public_key} if platform_public_key else {})},
        "store": {"path": str(tmp_path / "agent" / "agent.db"), "media_dir": str(tmp_path / "agent" / "media")},
        "vision": {"enabled": False}, "console": {"enabled": False},
        "video": {"dir": str(tmp_path / "agent" / "video"), "segment_s": 2, "reconnect_min_s": 0.5,
                  "reconnect_max_s": 2, "io_timeout_s": 3, "stall_s": 8, "cameras": cameras, **video},
    }
    path.write_text(yaml.safe_dump(data))
    return path


AGENT = "a1"


def wait_agent_online(platform: Any, timeout: float = 30.0) -> None:
    """The agent's first status reached the platform: it is subscribed to its commands
    (it subscribes before it publishes the status), so a command now is not lost."""
    from tests.fixtures_mqtt import wait_until

    wait_until(lambda: platform.status(AGENT), timeout=timeout, message="the agent online on the platform")
