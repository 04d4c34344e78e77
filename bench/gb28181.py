"""GB/T 28181 benchmark: what a live stream to a GB platform costs, and how fast it starts.

    ./dev.sh bench gb28181 [--quick] [--seconds 60] [--repeats 3] [--viewers-s 30] [--invites 50] [--json out.json]

Real parts, side by side in one run: the simulated IP camera (RTSP, its own process: not
measured) serving a pre-encoded H.264 file (made once by FFmpeg into a temp dir: 1080p25 at
4 Mbit/s, a key frame a second, noise so the bitrate is really used; no encoder in the
camera, so nothing steals CPU from the measurement and the stream really has its bitrate),
nginx-rtmp as the platform's media server, the reference GB platform, and two GB devices
registered with digest, one for each PS muxer (``ffmpeg``, the default, and ``gstreamer``).

1. CPU per live stream, all in the same windows on the same camera (each its own RTSP
   session): the FFmpeg relay (RTSP -> RTMP, copy), and each GB path: its muxer child (all
   threads) plus the agent's thread that splits the PS, packs it into RTP and sends it.
   CPU is read from /proc: ``schedstat`` (nanoseconds, every thread) and, as a check,
   ``stat`` (10 ms ticks; the window is long enough for the tick to be < 5 % of the count).
   ``--repeats`` windows back to back: min and median of each figure, and of the ratios
   (targets: GB <= 1.5x the relay, <= 5 % of one core per 1080p stream);
2. INVITE -> first RTP packet at the platform (default device), p50/p99 over ``--invites``
   invites, each starting the camera's source afresh (target p99 <= 1.5 s);
3. 4 concurrent viewers on 2 cameras for ``--viewers-s``: RTP sequence gaps (target 0).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import UTC
from pathlib import Path
from typing import Any

from agent.video.ffmpeg import FfmpegJob
from agent.video.gb28181.device import GbDevice
from agent.video.gb28181.media import MUXERS
from agent.video.gb28181.settings import GbCamera, GbSettings
from agent.video.relay import relay_args
from bench.video import child_pid
from drivers.backoff import Backoff
from simulator.devices.cameras import RtspCamera
from simulator.platform.gb28181 import Call, GbPlatform
from simulator.platform.media_server import MediaServer

TICKS = os.sysconf("SC_CLK_TCK")
SERVER_ID, DOMAIN, PASSWORD = "51010400002000000001", "5101040000", "bench-pw"
DEVICE_IDS = {"ffmpeg": "51010400001180000001", "gstreamer": "51010400001180000002"}
DEVICE_ID = DEVICE_IDS[MUXERS[0]]  # the default muxer's device: latency and viewers
CHANNELS = ("51010400001320000001", "51010400001320000002")
CLIP_S = 10  # the encoded clip, looped by stream copy into the camera's file


def make_source(tmp: Path, width: int, height: int, fps: int, kbps: int, seconds: float) -> Path:
    """An MP4 of ``seconds`` of H.264 (constrained baseline, a key frame a second, noise over a
    test pattern so the encoder spends the whole bitrate), encoded once, then looped by copy."""
    clip, long = tmp / "clip.mp4", tmp / "camera.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size={width}x{height}:rate={fps}", "-t", str(CLIP_S), "-vf", "noise=alls=40:allf=t+u",
                    "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-profile:v", "baseline",
                    "-b:v", f"{kbps}k", "-maxrate", f"{kbps}k", "-bufsize", f"{kbps}k", "-g", str(fps),
                    "-pix_fmt", "yuv420p", str(clip)], check=True, timeout=900)
    loops = int(seconds // CLIP_S) + 1
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", str(loops), "-i", str(clip),
                    "-c", "copy", "-movflags", "+faststart", str(long)], check=True, timeout=300)
    return long


def task_cpu(pid: int | str, tid: int | str | None = None) -> tuple[float, int]:
    """(CPU seconds from schedstat in ns, CPU ticks from stat) of a process's threads, or one thread's."""
    base = Path(f"/proc/{pid}/task")
    tasks = [base / str(tid)] if tid is not None else list(base.iterdir())
    ns = ticks = 0
    for task in tasks:
        try:
            ns += int((task / "schedstat").read_text().split()[0])
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError, ValueError):
            continue  # a thread that ended meanwhile
        ticks += int(fields[11]) + int(fields[12])
    return ns / 1e9, ticks


def gb_cpu(device: GbDevice, camera: str) -> tuple[float, int, float]:
    """The GB path of ``camera``: the muxer child and the agent's threads of that source
    (CPU s, ticks, and the agent threads' share of the CPU s)."""
    source = device.live._sources[camera]  # noqa: SLF001  the child of this run
    assert source._proc is not None  # noqa: SLF001
    s, t = task_cpu(source._proc.pid)  # noqa: SLF001
    names = (f"gb-ps-live-{camera}", f"gb-ps-log-live-{camera}")
    agent_s = 0.0
    for thread in threading.enumerate():
        if thread.name in names and thread.native_id:
            s2, t2 = task_cpu(os.getpid(), thread.native_id)
            s, t, agent_s = s + s2, t + t2, agent_s + s2
    return s, t, agent_s


def measure(args: argparse.Namespace) -> dict[str, Any]:
    width, height, fps, kbps = (640, 360, 15, 800) if args.quick else (1920, 1080, 25, 4000)
    tmp = Path(tempfile.mkdtemp(prefix="bench-gb28181-"))
    needed = args.warmup + args.repeats * args.seconds + 120
    source = make_source(tmp, width, height, fps, kbps, needed)
    cams = [RtspCamera(width=width, height=height, fps=fps, bitrate_kbps=kbps, file=source).start(),
            RtspCamera(width=width, height=height, fps=fps, bitrate_kbps=kbps, file=source).start()]
    server = MediaServer(tmp / "media").start()
    platform = GbPlatform(SERVER_ID, DOMAIN, dict.fromkeys(DEVICE_IDS.values(), PASSWORD)).start()
    devices: dict[str, GbDevice] = {}
    stop = threading.Event()
    for muxer, device_id in DEVICE_IDS.items():
        settings = GbSettings(SERVER_ID, DOMAIN, "127.0.0.1", platform.port, device_id, PASSWORD, local_port=0,
                              local_host="127.0.0.1", register_s=600, keepalive_s=30, max_viewers=8, muxer=muxer)
        devices[muxer] = GbDevice(settings, [GbCamera(f"{muxer}-cam{i}", CHANNELS[i], c.url)
                                             for i, c in enumerate(cams)],
                                  ring=None, alarms=None, tz=UTC, backoff=Backoff(0.2, 1.0))
        threading.Thread(target=devices[muxer].run, args=(stop,), daemon=True).start()
    try:
        for device_id in DEVICE_IDS.values():
            platform.wait_for(lambda d=device_id: platform.registered(d) is not None, 15, "registration")
        result: dict[str, Any] = {"camera": f"{width}x{height}@{fps} {kbps} kbit/s, pre-encoded file (no encoder)"}
        result.update(cpu_side_by_side(args, cams[0], server, platform, devices, tmp))
        result.update(invite_latency(args, platform, tmp))
        result.update(four_viewers(args, platform, tmp))
        return result
    finally:
        stop.set()
        platform.stop()
        server.stop()
        for cam in cams:
            cam.stop()
        shutil.rmtree(tmp, ignore_errors=True)  # the camera's file is hundreds of MB


def _stats(values: list[float], digits: int = 3) -> dict[str, float]:
    return {"min": round(min(values), digits), "median": round(statistics.median(values), digits),
            "max": round(max(values), digits)}


def cpu_side_by_side(args: argparse.Namespace, cam: RtspCamera, server: MediaServer, platform: GbPlatform,
                     devices: dict[str, GbDevice], tmp: Path) -> dict[str, Any]:
    relay = FfmpegJob("bench-relay", lambda: relay_args(cam.url, server.publish_url("bench"), 5.0, None),
                      backoff=Backoff(1, 5))
    relay_stop = threading.Event()
    threading.Thread(target=relay.run, args=(relay_stop,), daemon=True).start()
    calls: dict[str, Call] = {}
    for muxer in devices:
        calls[muxer] = platform.invite(DEVICE_IDS[muxer], CHANNELS[0], tmp / f"cpu-{muxer}.ps")
        assert calls[muxer].accepted, calls[muxer].response
    windows: list[dict[str, Any]] = []
    try:
        relay_pid = child_pid(relay)
        deadline = time.monotonic() + 30
        while min(c.receiver.packets for c in calls.values()) < 50 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(args.warmup)

        def sample() -> dict[str, tuple[float, int, float, int]]:
            out = {"relay": (*task_cpu(relay_pid), 0.0, 0)}
            for muxer, device in devices.items():
                out[muxer] = (*gb_cpu(device, f"{muxer}-cam0"), calls[muxer].receiver.bytes)
            return out

        for _ in range(args.repeats):
            before, w0 = sample(), time.monotonic()
            time.sleep(args.seconds)
            after, wall = sample(), time.monotonic() - w0
            window: dict[str, Any] = {"window_s": round(wall, 1)}
            for path in after:
                ns_s = after[path][0] - before[path][0]
                ticks = after[path][1] - before[path][1]
                window[path] = {"cpu_pct": 100 * ns_s / wall, "cpu_pct_ticks": 100 * ticks / TICKS / wall,
                                "ticks": ticks, "agent_pct": 100 * (after[path][2] - before[path][2]) / wall,
                                "kbps": 8 * (after[path][3] - before[path][3]) / 1000 / wall}
            windows.append(window)
    finally:
        for call in calls.values():
            platform.bye(call)
        relay_stop.set()
    result: dict[str, Any] = {"cpu_windows": args.repeats, "window_s": args.seconds,
                              "relay_cpu_pct": _stats([w["relay"]["cpu_pct"] for w in windows]),
                              "relay_ticks_per_window": min(w["relay"]["ticks"] for w in windows)}
    for muxer in devices:
        result[f"gb_{muxer}"] = {
            "cpu_pct": _stats([w[muxer]["cpu_pct"] for w in windows]),
            "cpu_pct_from_ticks": _stats([w[muxer]["cpu_pct_ticks"] for w in windows]),
            "of_which_agent_thread_pct": _stats([w[muxer]["agent_pct"] for w in windows]),
            "over_relay": _stats([w[muxer]["cpu_pct"] / w["relay"]["cpu_pct"] for w in windows], 2),
            "stream_kbps": _stats([w[muxer]["kbps"] for w in windows], 0),
            "gaps": calls[muxer].receiver.gaps}
    result["relay_cpu_pct_from_ticks"] = _stats([w["relay"]["cpu_pct_ticks"] for w in windows])
    return result


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
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="each CPU window (schedstat counts ns; the 10 ms ticks of stat need >= 20 in a window)")
    parser.add_argument("--repeats", type=int, default=3, help="CPU windows back to back (min and median)")
    parser.add_argument("--viewers-s", type=float, default=30.0, help="4 viewers' window")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--invites", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.invites, args.warmup, args.viewers_s = min(args.seconds, 10.0), min(args.invites, 10), 2.0, 5.0
    result = measure(args)
    default = result[f"gb_{MUXERS[0]}"]
    targets = {"gb_over_relay <= 1.5 (median)": default["over_relay"]["median"] <= 1.5,
               "gb_cpu_pct <= 5 (median)": default["cpu_pct"]["median"] <= 5.0,
               "relay ticks per window >= 20 (tick < 5 %)": result["relay_ticks_per_window"] >= 20,
               "first_rtp_p99_s <= 1.5": result["first_rtp_p99_s"] <= 1.5,
               "viewer_gaps == 0": result["viewer_gaps"] == 0}
    result["targets"] = targets
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
