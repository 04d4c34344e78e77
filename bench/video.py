"""Video benchmark: what relaying and recording a camera cost, and how fast a range arrives.

    ./dev.sh bench video [--quick] [--seconds 130] [--range-s 120] [--json out.json]

Real parts, side by side in one run: the simulated IP camera (RTSP, H.264 from a test
pattern, in its own process: not measured), nginx-rtmp as the platform's media server,
Mosquitto, the reference platform, and the agent with one camera that is recorded (ring
of 60 s segments) and relayed continuously at the same time.

1. CPU per relayed stream: the relay's FFmpeg child, CPU time over wall time in the
   measuring window (target <= 3 % of one core: copy, not transcode);
2. CPU per recorded camera: the recorder's FFmpeg child, the same window;
   plus the agent process itself (its supervision threads, uplink, store) for scale;
3. bytes on disk per camera-hour: the closed segments' bytes over their seconds, x 3600,
   at the camera's bitrate (printed; real cameras' main streams are 1-4 Mbit/s);
4. fetch_video of a ``--range-s`` range (default 2 minutes): command sent -> the
   platform's stored, verified file, and that file's duration by ffprobe.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.app import Agent
from agent.config_file.model import AgentConfig
from simulator.devices.cameras import RtspCamera
from simulator.platform.broker import Broker
from simulator.platform.media_server import MediaServer
from simulator.platform.platform import Platform

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def child_pid(job: Any) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        proc = job._proc  # the FFmpeg child of this run  # noqa: SLF001
        if proc is not None and job.state == "streaming":
            return int(proc.pid)
        time.sleep(0.1)
    raise RuntimeError(f"{job.name} never streamed: {job.state} {job.detail}")


def make_agent(tmp: Path, broker: Broker, camera: RtspCamera, server: MediaServer, segment_s: float) -> Agent:
    return Agent(AgentConfig.model_validate({
        "identity": {"agent_id": "bench", "school_id": "1", "canteen_id": "k1"},
        "broker": {"host": "127.0.0.1", "port": broker.port, "reconnect_min_s": 0.2, "reconnect_max_s": 2},
        "store": {"path": str(tmp / "agent.db"), "media_dir": str(tmp / "media")},
        "vision": {"enabled": False},
        "video": {"dir": str(tmp / "video"), "segment_s": segment_s, "fetch_max_s": 900,
                  "cameras": [{"id": "kitchen-1", "url": camera.url, "record": True,
                               "relay_to": server.publish_url("kitchen-1")}]},
    }))


def ffprobe_duration(path: str) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
                         capture_output=True, text=True, check=True).stdout
    return float(out.strip())


def measure(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp_name:
        tmp = Path(tmp_name)
        camera = RtspCamera(width=args.width, height=args.height, fps=args.fps, bitrate_kbps=args.kbps,
                            pattern=args.pattern).start()
        server = MediaServer(tmp / "media-server", record=False).start()
        broker = Broker(tmp / "broker").start()
        platform = Platform("127.0.0.1", broker.port, tmp / "platform.db", media_dir=tmp / "platform-media").start()
        agent = make_agent(tmp, broker, camera, server, args.segment_s)
        agent.start()
        try:
            return run_measurements(args, agent, platform)
        finally:
            agent.stop()
            platform.stop()
            broker.stop()
            server.stop()
            camera.stop()


def run_measurements(args: argparse.Namespace, agent: Agent, platform: Platform) -> dict[str, Any]:
    video = agent.video
    relay_pid = child_pid(video.relay._relays[next(iter(video.relay._relays))].job)  # noqa: SLF001
    record_pid = child_pid(video.recorders[0].job)
    started_recording = datetime.now(UTC)
    time.sleep(3)  # past the opening burst (the probe's buffered second)
    own, relay0, record0, t0 = cpu_s(os.getpid()), cpu_s(relay_pid), cpu_s(record_pid), time.monotonic()
    print(f"measuring for {args.seconds:.0f}s ...", file=sys.stderr, flush=True)
    time.sleep(args.seconds)
    wall = time.monotonic() - t0
    result: dict[str, Any] = {
        "camera": f"{args.width}x{args.height}@{args.fps} H.264 ~{args.kbps} kbit/s ({args.pattern})",
        "window_s": round(wall, 1),
        "relay_cpu_pct_of_core": round(100 * (cpu_s(relay_pid) - relay0) / wall, 2),
        "record_cpu_pct_of_core": round(100 * (cpu_s(record_pid) - record0) / wall, 2),
        "agent_process_cpu_pct_of_core": round(100 * (cpu_s(os.getpid()) - own) / wall, 2),
        "relay_kbps": video.relay.bitrate_kbps(),
        "relay_restarts": video.status()["streams"][0]["restarts"],
    }
    closed = video.ring.segments("kitchen-1")[1:-1]  # not the opening one, not the one being written
    seconds = sum(s.seconds for s in closed)
    if seconds:
        result["disk_mb_per_camera_hour"] = round(sum(s.bytes for s in closed) / seconds * 3600 / 1e6, 1)
        result["disk_measured_over_s"] = round(seconds, 1)
    end = datetime.now(UTC) - timedelta(seconds=args.segment_s + 2)  # inside closed segments
    start = max(end - timedelta(seconds=args.range_s), started_recording + timedelta(seconds=4))
    result.update(fetch(platform, start, end))
    return result


def fetch(platform: Platform, start: datetime, end: datetime) -> dict[str, Any]:
    t0 = time.monotonic()
    answer = platform.send_command("bench", "fetch_video", {"camera_id": "kitchen-1", "from": start.isoformat(),
                                                            "to": end.isoformat()}, timeout=60)
    answered = time.monotonic() - t0
    if not answer["ok"]:
        return {"fetch_error": answer["error"]}
    media_id = answer["result"]["media"]["id"]
    while not any(f["id"] == media_id for f in platform.media_files("bench")):
        if time.monotonic() - t0 > 300:
            return {"fetch_error": "not stored by the platform within 300 s"}
        time.sleep(0.05)
    stored = next(f for f in platform.media_files("bench") if f["id"] == media_id)
    return {"fetch_range_s": round((end - start).total_seconds(), 1),
            "fetch_answer_s": round(answered, 2),
            "fetch_to_platform_file_s": round(time.monotonic() - t0, 2),
            "fetch_bytes": stored["bytes"],
            "fetch_file_duration_s": round(ffprobe_duration(stored["path"]), 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.video", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 s window, 20 s range, 10 s segments")
    parser.add_argument("--seconds", type=float, default=130.0, help="measuring window (recording time)")
    parser.add_argument("--range-s", type=float, default=120.0, help="fetch_video range")
    parser.add_argument("--segment-s", type=float, default=60.0)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--kbps", type=int, default=2000, help="the camera's bitrate cap")
    parser.add_argument("--pattern", default="smpte", help="GStreamer videotestsrc pattern (snow: worst case)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.range_s, args.segment_s = 30.0, 20.0, 10.0
    if args.seconds < args.range_s + 2 * args.segment_s:
        args.seconds = args.range_s + 2 * args.segment_s  # enough closed segments for the range
    result = measure(args)
    for key, value in result.items():
        print(f"{key:32s} {value}")
    target = result["relay_cpu_pct_of_core"] <= 3.0
    print(f"relay CPU target (<= 3 % of a core): {'met' if target else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
