"""The demo's video: the kitchen camera's RTSP main stream, the platform's media server,
a one-minute relay on a platform command and one range fetched after the mask episode.

Video runs in real time (FFmpeg copies a live camera), while the demo's clock runs fast;
so the range fetched is the real time the episode played, and the relay lasts a real
minute (the day waits for it at its end when it is shorter than that).
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from simulator.demo.report import Check
from simulator.devices.cameras import RtspCamera
from simulator.platform.commands import build_command
from simulator.platform.media_server import MediaServer

log = logging.getLogger("simulator.demo.video")

RELAY_S = 60.0
CAMERA_ID = "cam-kitchen"


def probe_duration(path: str | Path) -> float | None:
    done = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)
    try:
        return float(json.loads(done.stdout)["format"]["duration"])
    except (ValueError, KeyError):
        return None


class DemoVideo:
    def __init__(self, workdir: Path, now: Callable[[], datetime], segment_s: float = 10.0) -> None:
        self.now = now  # the demo's clock: commands are issued and expire on the agent's time
        self.camera = RtspCamera(width=320, height=240, fps=10)
        self.server = MediaServer(workdir)
        self.segment_s = segment_s
        self.relay_started: float | None = None
        self.relay_result: dict[str, Any] | None = None
        self.relayed_s: float | None = None
        self.episode: tuple[datetime, datetime] | None = None
        self.fetch_result: dict[str, Any] | None = None
        self.fetched_s: float | None = None

    @property
    def url(self) -> str:
        return self.camera.url

    def start(self) -> DemoVideo:
        self.camera.start()
        self.server.start()
        return self

    def stop(self) -> None:
        self.camera.stop()
        self.server.stop()

    def relay(self, platform: Any, agent_id: str) -> str:
        """``start_stream`` for a minute to the platform's media server."""
        self.relay_started = time.monotonic()
        self.relay_result = self._command(platform, agent_id, "start_stream", {
            "camera_id": CAMERA_ID, "target": self.server.publish_url(CAMERA_ID), "duration_s": RELAY_S})
        if not self.relay_result["ok"]:
            return f"platform: start_stream refused: {self.relay_result['error']}"
        return f"platform: start_stream {CAMERA_ID} for {RELAY_S:.0f} s to {self.server.publish_url(CAMERA_ID)}"

    def _command(self, platform: Any, agent_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        command = build_command(name, args, now=self.now(), expires_in=600)
        platform.publish_command(agent_id, command)
        result: dict[str, Any] = platform.wait_result(command["id"], timeout=30)
        return result

    def episode_played(self, started: datetime, seconds: float) -> None:
        self.episode = (started - timedelta(seconds=2), started + timedelta(seconds=seconds + 2))

    def fetch(self, platform: Any, agent_id: str) -> str:
        """``fetch_video`` of the mask episode's real time, once its segments are closed."""
        if self.episode is None:
            return "platform: no mask episode to fetch"
        ready = self.episode[1] + timedelta(seconds=self.segment_s + 2)
        time.sleep(max(0.0, (ready - datetime.now(UTC)).total_seconds()))
        self.fetch_result = self._command(platform, agent_id, "fetch_video", {
            "camera_id": CAMERA_ID, "from": self.episode[0].isoformat(), "to": self.episode[1].isoformat()})
        if not self.fetch_result["ok"]:
            return f"platform: fetch_video refused: {self.fetch_result['error']}"
        result = self.fetch_result["result"]
        return f"platform: fetch_video {CAMERA_ID} {result['duration_s']} s, {result['bytes']} bytes as media"

    def wait_relay(self, stop: Any) -> str:
        """The minute's relay over (the server's recording closed), then its duration by ffprobe."""
        if self.relay_started is None or not (self.relay_result or {}).get("ok"):
            return "platform: no relay"
        deadline = self.relay_started + RELAY_S + 30
        while time.monotonic() < deadline and not stop.is_set():
            if time.monotonic() > self.relay_started + RELAY_S and CAMERA_ID not in self.server.publishing():
                break
            stop.wait(0.5)
        self.relayed_s = probe_duration(self.server.recording(CAMERA_ID))
        return f"platform: relay ended, the media server recorded {self.relayed_s} s"

    def fetched_file_duration(self, platform: Any, agent_id: str) -> None:
        if not (self.fetch_result or {}).get("ok"):
            return
        media_id = self.fetch_result["result"]["media"]["id"]  # type: ignore[index]
        stored = [f for f in platform.media_files(agent_id) if f["id"] == media_id]
        if stored:
            self.fetched_s = probe_duration(stored[0]["path"])

    def check(self) -> Check:
        relay_ok = self.relayed_s is not None and abs(self.relayed_s - RELAY_S) <= 0.1 * RELAY_S
        wanted = (self.episode[1] - self.episode[0]).total_seconds() if self.episode else 0.0
        fetch_ok = self.fetched_s is not None and 0.9 * wanted <= self.fetched_s <= wanted + 4.0
        return Check("camera relayed for a minute on a command, the mask episode fetched as video",
                     relay_ok and fetch_ok,
                     f"relayed {self.relayed_s} s of {RELAY_S:.0f}; fetched {self.fetched_s} s of {wanted:.0f}")
