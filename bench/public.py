"""Bench: the morning-check station's latency while the public listener is flooded.

One run, side by side: the serial-latency bench's morning checks (frame on the wire →
committed record, ``bench/serial_latency.py``) with the public listener on and idle, then
the same while a separate process posts 1,000 complaints in 10 s (100 a second) with
photos, from 100 loopback addresses (127.0.1.1 …: ten each, as a crowd behind many phones),
each with a valid device cookie and form token, so every post reaches the limits: the per
address limit (``public.complaints_per_address``), everyone's (``public.complaints_per_minute``,
``public.complaints_per_hour``),
the per-address request budget and the worker cap. The checks go on until the flood has
ended. The flooding process runs at nice 19: on a real box its senders are other machines.

Run: ``./dev.sh bench public [--checks 400]``
Target: the station's p99 stays within its own target (≤ 50 ms, ``bench/serial_latency.py``)
during the flood. The public side runs in a process of its own (``agent/public/process.py``):
"the agent's CPU" is the agent's process; the public process's share is printed beside it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agent.app import Agent
from bench.serial_latency import TARGET_P99_MS, percentile, run

POSTS, SECONDS, ADDRESSES = 1000, 10.0, 100
PUBLIC = {"public": {"enabled": True, "port": 0}}
PUBLIC_NICE = 10  # public.nice's default: the public side's process runs at it


def tiny_jpeg() -> bytes:
    import cv2
    import numpy as np

    ok, data = cv2.imencode(".jpg", np.full((480, 640, 3), 128, np.uint8))
    assert ok
    return bytes(data.tobytes())


def flood(port: int, posts: int, seconds: float, addresses: int) -> dict[str, Any]:
    """The flooding client (run in its own process): ``posts`` complaints in ``seconds``."""
    photo = tiny_jpeg()
    statuses: Counter[str] = Counter()
    lock = threading.Lock()

    def connect(n: int) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", port, timeout=30,
                                          source_address=(f"127.0.{1 + n // 250}.{1 + n % 250}", 0))

    def token(n: int) -> tuple[str, str]:
        conn = connect(n)
        conn.request("GET", "/public/complain")
        answer = conn.getresponse()
        body = answer.read().decode()
        cookie = (answer.getheader("set-cookie") or "").split(";")[0]
        conn.close()
        found = re.search(r'name="csrf" value="([^"]+)"', body)
        return cookie, found.group(1) if found else ""

    forms = [token(n) for n in range(addresses)]
    start = time.perf_counter()

    def post(i: int) -> None:
        n = i % addresses
        cookie, csrf = forms[n]
        boundary = uuid.uuid4().hex
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{csrf}\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="category"\r\n\r\nother\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="text"\r\n\r\nflood {i}\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="a.jpg"\r\n'
                f'Content-Type: image/jpeg\r\n\r\n').encode() + photo + f"\r\n--{boundary}--\r\n".encode()
        delay = start + i * seconds / posts - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        try:
            conn = connect(n)
            conn.request("POST", "/public/complain", body=body, headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}", "Cookie": cookie})
            status = str(conn.getresponse().status)
            conn.close()
        except OSError as exc:
            status = type(exc).__name__
        with lock:
            statuses[status] += 1

    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(post, range(posts)))
    return {"statuses": dict(statuses), "seconds": round(time.perf_counter() - start, 2)}


def flooding(result: dict[str, Any]) -> Any:
    def start(agent: Agent) -> threading.Event:
        done = threading.Event()
        server = agent.public.server
        assert server is not None and server.started.wait(10), "public listener did not start"

        def go() -> None:
            # the flood's senders are other machines: their CPU is not the box's (nice 19 here)
            before, start = cpu_ticks(server.pid), time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "bench.public", "--flood", str(server.port)],
                                 capture_output=True, text=True, preexec_fn=lambda: os.nice(19))
            if out.returncode != 0:
                print(out.stderr, file=sys.stderr)
            else:
                result.update(json.loads(out.stdout.strip().splitlines()[-1]))
            result["public_cpu"] = 100 * (cpu_ticks(server.pid) - before) / os.sysconf("SC_CLK_TCK") / (
                time.perf_counter() - start)
            result["stored"] = sum(1 for _ in agent.store.iter_records(type_="public_complaint"))
            result["refusals"] = agent.public.refusals.snapshot()
            done.set()

        threading.Thread(target=go, daemon=True).start()
        return done

    return start


def listening(agent: Agent) -> threading.Event:
    """No load: the checks begin once the public side's process is up (its start-up is not idling)."""
    server = agent.public.server
    assert server is not None and server.started.wait(10), "public listener did not start"
    done = threading.Event()
    done.set()
    return done


def cpu_ticks(pid: int | None) -> int:
    """The CPU time the public side's own process has used (user + system, clock ticks)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def cpu_of(work: Any) -> tuple[Any, float]:
    """``work()``'s result and this process's CPU use while it ran, in % of one core (the flood's
    senders are another process: not counted)."""
    start_cpu, start = time.process_time(), time.perf_counter()
    result = work()
    return result, 100 * (time.process_time() - start_cpu) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=400, help="at most this many checks in each run")
    parser.add_argument("--flood", type=int, help=argparse.SUPPRESS)  # the flooding process: the port
    args = parser.parse_args()
    if args.flood:
        print(json.dumps(flood(args.flood, POSTS, SECONDS, ADDRESSES)))
        return
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    print(f"public bench: morning checks with the public listener idle, then flooded by {POSTS} complaint posts "
          f"in {SECONDS:g} s from {ADDRESSES} addresses; {platform.machine()} {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    # the idle line too starts once the public side listens: its process's start is not the listener idling
    idle, idle_cpu = cpu_of(lambda: run(args.checks, 20, extra=PUBLIC, also=("public",), during=listening,
                                        min_checks=args.checks))
    flood_result: dict[str, Any] = {}
    # as many checks as fit while the flood lasts (at least --checks)
    flooded, flood_cpu = cpu_of(lambda: run(args.checks * 5, 20, extra=PUBLIC, also=("public",),
                                            during=flooding(flood_result), min_checks=args.checks))
    print(f"flood: answers {flood_result.get('statuses')} in {flood_result.get('seconds')} s; complaints stored "
          f"{flood_result.get('stored')}; refused by reason {flood_result.get('refusals')}")
    key = "frame → record committed"
    for label, values in (("idle listener", idle[key]), ("flooded listener", flooded[key])):
        print(f"{label:18s} p50 {percentile(values, 50):6.2f} ms  p90 {percentile(values, 90):6.2f} ms  "
              f"p99 {percentile(values, 99):6.2f} ms  max {max(values):6.2f} ms  "
              f"mean {statistics.fmean(values):6.2f} ms  (n={len(values)})")
    p99_idle, p99_flood = percentile(idle[key], 99), percentile(flooded[key], 99)
    print(f"flooded/idle p99 ratio {p99_flood / p99_idle:.2f}; the agent's CPU (both cores = 200%): idle "
          f"{idle_cpu:.0f}%, flooded {flood_cpu:.0f}%; the public side's own process (nice "
          f"{PUBLIC_NICE}) while flooded: {flood_result.get('public_cpu', 0):.0f}%")
    print(f"target p99 ≤ {TARGET_P99_MS:g} ms during the flood: {'met' if p99_flood <= TARGET_P99_MS else 'NOT met'} "
          f"({p99_flood:.2f} ms); with the listener idle: {'met' if p99_idle <= TARGET_P99_MS else 'NOT met'} "
          f"({p99_idle:.2f} ms)")


if __name__ == "__main__":
    main()
