"""GB/T 28181 benchmark: what a live stream to a GB platform costs, and how fast it starts.

    ./dev.sh bench gb28181 [--quick] [--seconds 120] [--viewers-s 30] [--invites 50] [--json out.json]

Real parts, side by side in one run: the simulated IP camera (RTSP, H.264, its own process:
not measured), nginx-rtmp as the platform's media server, the reference GB platform, and
the agent's GB device (registered with digest) on free ports.

1. CPU per live stream: the stream's GStreamer child (RTSP in, H.264 copied, mpegpsmux)
   plus the agent's thread that packs the PS into RTP and sends it, CPU time over wall time,
   beside the FFmpeg relay (RTSP -> RTMP, copy) of the same camera in the same window
   (targets: <= 1.5x the relay, <= 5 % of one core per 1080p stream);
2. INVITE -> first RTP packet at the platform, p50/p99 over ``--invites`` invites, each
   starting the camera's source afresh (target p99 <= 1.5 s);
3. 4 concurrent viewers on 2 cameras for ``--viewers-s``: RTP sequence gaps (target 0).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from datetime import UTC
from pathlib import Path
from typing import Any

from agent.video.ffmpeg import FfmpegJob
from agent.video.gb28181.device import GbCamera, GbDevice, GbSettings
from agent.video.relay import relay_args
from bench.video import child_pid, cpu_s
from drivers.backoff import Backoff
from simulator.devices.cameras import RtspCamera
from simulator.platform.gb28181 import GbPlatform
from simulator.platform.media_server import MediaServer

TICKS = os.sysconf("SC_CLK_TCK")
SERVER_ID, DOMAIN, DEVICE_ID, PASSWORD = "51010400002000000001", "5101040000", "51010400001180000001", "bench-pw"
CHANNELS = ("51010400001320000001", "51010400001320000002")


def thread_cpu_s(native_id: int) -> float:
    fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def reader_threads(prefix: str) -> list[int]:
    return [t.native_id for t in threading.enumerate() if t.name.startswith(prefix) and t.native_id]


def measure(args: argparse.Namespace) -> dict[str, Any]:
    width, height, fps, kbps = (640, 360, 15, 800) if args.quick else (1920, 1080, 25, 4000)
    tmp = Path(tempfile.mkdtemp(prefix="bench-gb28181-"))
    cams = [RtspCamera(width=width, height=height, fps=fps, bitrate_kbps=kbps, pattern=args.pattern).start(),
            RtspCamera(width=width, height=height, fps=fps, bitrate_kbps=kbps, pattern=args.pattern).start()]
    server = MediaServer(tmp / "media").start()
    platform = GbPlatform(SERVER_ID, DOMAIN, {DEVICE_ID: PASSWORD}).start()
    settings = GbSettings(SERVER_ID, DOMAIN, "127.0.0.1", platform.port, DEVICE_ID, PASSWORD, local_port=0,
                          local_host="127.0.0.1", register_s=600, keepalive_s=30, max_viewers=8)
    device = GbDevice(settings, [GbCamera(f"cam{i}", CHANNELS[i], c.url) for i, c in enumerate(cams)],
                      ring=None, alarms=None, tz=UTC, backoff=Backoff(0.2, 1.0))
    stop = threading.Event()
    threading.Thread(target=device.run, args=(stop,), daemon=True).start()
    try:
        platform.wait_for(lambda: platform.registered(DEVICE_ID) is not None, 15, "registration")
        result: dict[str, Any] = {"camera": f"{width}x{height}@{fps} {kbps} kbit/s pattern={args.pattern}"}
        result.update(cpu_side_by_side(args, cams[0], server, platform, tmp))
        result.update(invite_latency(args, platform, tmp))
        result.update(four_viewers(args, platform, tmp))
        return result
    finally:
        stop.set()
        platform.stop()
        server.stop()
        for cam in cams:
            cam.stop()


def cpu_side_by_side(args: argparse.Namespace, cam: RtspCamera, server: MediaServer, platform: GbPlatform,
                     tmp: Path) -> dict[str, Any]:
    relay = FfmpegJob("bench-relay", lambda: relay_args(cam.url, server.publish_url("bench"), 5.0, None),
                      backoff=Backoff(1, 5))
    relay_stop = threading.Event()
    threading.Thread(target=relay.run, args=(relay_stop,), daemon=True).start()
    call = platform.invite(DEVICE_ID, CHANNELS[0], tmp / "cpu.ps")
    assert call.accepted, call.response
    try:
        relay_pid = child_pid(relay)
        deadline = time.monotonic() + 20
        while call.receiver.packets < 50 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(args.warmup)
        gst_pid = int(next(p for p in _gst_children()))
        threads = reader_threads("gb-ps-live-cam0")
        r0, g0, t0 = cpu_s(relay_pid), cpu_s(gst_pid), sum(thread_cpu_s(t) for t in threads)
        w0 = time.monotonic()
        time.sleep(args.seconds)
        wall = time.monotonic() - w0
        r1, g1, t1 = cpu_s(relay_pid), cpu_s(gst_pid), sum(thread_cpu_s(t) for t in threads)
    finally:
        platform.bye(call)
        relay_stop.set()
    relay_pct = 100 * (r1 - r0) / wall
    gst_pct, rtp_pct = 100 * (g1 - g0) / wall, 100 * (t1 - t0) / wall
    gb_pct = gst_pct + rtp_pct
    return {"window_s": round(wall, 1), "relay_cpu_pct": round(relay_pct, 2), "gb_cpu_pct": round(gb_pct, 2),
            "gb_gst_cpu_pct": round(gst_pct, 2), "gb_rtp_thread_cpu_pct": round(rtp_pct, 2),
            "gb_over_relay": round(gb_pct / relay_pct, 2) if relay_pct > 0 else None,
            "cpu_stream_gaps": call.receiver.gaps,
            "stream_kbps": round(8 * call.receiver.bytes / 1000 / max(1.0, time.monotonic() - call.invited_mono), 1)}


def _gst_children() -> list[int]:
    mine = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat[1].split()[1])
        if ppid == mine and b"gst-launch-1.0" in cmd:
            found.append(int(entry.name))
    return found


def invite_latency(args: argparse.Namespace, platform: GbPlatform, tmp: Path) -> dict[str, Any]:
    times: list[float] = []
    for n in range(args.invites):
        call = platform.invite(DEVICE_ID, CHANNELS[n % 2], tmp / "latency.ps")
        assert call.accepted, call.response
        deadline = time.monotonic() + 10
        while call.receiver.first_packet_mono is None and time.monotonic() < deadline:
            time.sleep(0.005)
        first = call.first_packet_s()
        times.append(first if first is not None else float("inf"))
        platform.bye(call)
        time.sleep(0.3)  # the source stops after its last viewer: each invite starts afresh
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {"invites": len(times), "first_rtp_p50_s": round(statistics.median(times), 3),
            "first_rtp_p99_s": round(p99, 3), "first_rtp_max_s": round(ordered[-1], 3)}


def four_viewers(args: argparse.Namespace, platform: GbPlatform, tmp: Path) -> dict[str, Any]:
    calls = [platform.invite(DEVICE_ID, CHANNELS[i % 2], tmp / f"viewer{i}.ps") for i in range(4)]
    assert all(c.accepted for c in calls)
    time.sleep(args.viewers_s)
    for call in calls:
        platform.bye(call)
    return {"viewers": 4, "viewer_packets": [c.receiver.packets for c in calls],
            "viewer_gaps": sum(c.receiver.gaps for c in calls)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev.sh bench gb28181")
    parser.add_argument("--quick", action="store_true", help="640x360 instead of 1080p, shorter windows")
    parser.add_argument("--seconds", type=float, default=120.0,
                        help="CPU window (CPU time is counted in 10 ms ticks: a long window for a fraction of 1 %%)")
    parser.add_argument("--viewers-s", type=float, default=30.0, help="4 viewers' window")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--invites", type=int, default=50)
    parser.add_argument("--pattern", default="snow",
                        help="the camera's test pattern (snow: noise, the camera's full bitrate as a busy kitchen)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.invites, args.warmup, args.viewers_s = min(args.seconds, 10.0), min(args.invites, 10), 2.0, 5.0
    result = measure(args)
    targets = {"gb_over_relay <= 1.5": (result["gb_over_relay"] or 99) <= 1.5,
               "gb_cpu_pct <= 5": result["gb_cpu_pct"] <= 5.0,
               "first_rtp_p99_s <= 1.5": result["first_rtp_p99_s"] <= 1.5,
               "viewer_gaps == 0": result["viewer_gaps"] == 0}
    result["targets"] = targets
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
