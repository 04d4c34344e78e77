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
from simulator.platform.gb28181 import GbPlatform
from simulator.platform.media_server import MediaServer

log = logging.getLogger("simulator.demo.video")

RELAY_S = 60.0
CAMERA_ID = "cam-kitchen"
GB_SERVER, GB_DOMAIN, GB_DEVICE = "51010400002000000001", "5101040000", "51010400001180000001"
GB_CHANNEL, GB_PASSWORD = "51010400001320000001", "demo-gb-password"
GB_LIVE_S, GB_PLAYBACK_S = 5.0, 6


def probe_duration(path: str | Path) -> float | None:
    done = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)
    try:
        return float(json.loads(done.stdout)["format"]["duration"])
    except (ValueError, KeyError):
        return None


def _probe(path: Path) -> dict[str, Any]:
    done = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                           "stream=codec_name,width,height:format=duration", "-of", "json", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)
    try:
        data = json.loads(done.stdout)
        stream = data["streams"][0]
        return {"codec": stream["codec_name"], "size": f"{stream['width']}x{stream['height']}",
                "duration_s": round(float(data["format"].get("duration", 0.0)), 1)}
    except (ValueError, KeyError, IndexError):
        return {"codec": None, "error": done.stderr.strip()[-200:]}


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
        self.workdir = workdir
        self.gb = GbPlatform(GB_SERVER, GB_DOMAIN, {GB_DEVICE: GB_PASSWORD})
        self.gb_live: dict[str, Any] | None = None
        self.gb_playback: dict[str, Any] | None = None

    @property
    def url(self) -> str:
        return self.camera.url

    def start(self) -> DemoVideo:
        self.camera.start()
        self.server.start()
        self.gb.start()
        return self

    def stop(self) -> None:
        self.gb.stop()
        self.camera.stop()
        self.server.stop()

    def gb_config(self) -> dict[str, object]:
        """``video.gb28181`` for the agent: the reference GB platform on its free port."""
        return {"enabled": True, "server_id": GB_SERVER, "domain": GB_DOMAIN, "server_host": "127.0.0.1",
                "server_port": self.gb.port, "device_id": GB_DEVICE, "password": GB_PASSWORD, "local_port": 0,
                "local_host": "127.0.0.1", "keepalive_s": 10, "channel_id": GB_CHANNEL}

    def gb_live_and_playback(self) -> list[str]:
        """The GB platform's catalog, a live view of the kitchen over UDP, and a playback of the
        first seconds of the mask episode from the agent's ring; what ffprobe saw of each."""
        lines: list[str] = []
        try:
            self.gb.wait_for(lambda: self.gb.registered(GB_DEVICE) is not None, 30, "the agent's registration")
            channels = [item["DeviceID"] for item in self.gb.catalog(GB_DEVICE)]
            lines.append(f"GB platform: agent {GB_DEVICE} registered (digest), catalog {channels}")
            out = self.workdir.parent / "gb-live.ps"
            call = self.gb.invite(GB_DEVICE, GB_CHANNEL, out)
            time.sleep(GB_LIVE_S)
            self.gb.bye(call)
            call.receiver.closed.wait(5)
            self.gb_live = {"packets": call.receiver.packets, "gaps": call.receiver.gaps, **_probe(out)}
            lines.append(f"GB platform: live view {self.gb_live}")
            if self.episode is not None:
                start = int(self.episode[0].timestamp())
                out = self.workdir.parent / "gb-playback.ps"
                call = self.gb.invite(GB_DEVICE, GB_CHANNEL, out, session="Playback", start=start,
                                      end=start + GB_PLAYBACK_S)
                if call.accepted:
                    self.gb.wait_for(lambda: self.gb.media_status, GB_PLAYBACK_S + 20, "the playback's end")
                    self.gb.bye(call)
                    call.receiver.closed.wait(5)
                    self.gb_playback = {"packets": call.receiver.packets, **_probe(out)}
                else:
                    self.gb_playback = {"refused": call.response.status_code if call.response else None}
                lines.append(f"GB platform: playback {self.gb_playback}")
        except (TimeoutError, RuntimeError) as exc:
            lines.append(f"GB platform: {exc}")
        return lines

    def gb_check(self) -> Check:
        live, playback = self.gb_live or {}, self.gb_playback or {}
        ok = (live.get("codec") == "h264" and live.get("gaps") == 0 and playback.get("codec") == "h264"
              and (playback.get("duration_s") or 0) >= GB_PLAYBACK_S - 2)
        return Check("registered with the GB/T 28181 platform, one live view and one playback decoded", ok,
                     f"live {live or 'none'}; playback {playback or 'none'}")

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
