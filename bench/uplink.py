"""Uplink benchmark: drain a backlog with platform acks against a raw paho QoS 1 loop.

    ./dev.sh bench uplink [--records 100000]

One run, one local Mosquitto, the reference platform in its own process (ids
checked, full schema validation off so that the platform is not the bottleneck):

1. raw paho: publish the same number of record-sized QoS 1 messages with the same
   in-flight window and wait for every PUBACK (no store, no acks, no ordering), once
   with paho's defaults (the issue's anchor) and once with Nagle's algorithm off on the
   socket as the agent has it (like for like);
2. the agent: a store holding the backlog, drained by the uplink until the
   platform has acknowledged every record (items leave the outbox only then).

Prints both rates, their ratio (target >= 0.8) and the agent's resident memory
during the drain, read from the agent's own process (it should stay flat).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from agent.store import Store
from bench.store import draft
from simulator.platform.broker import Broker

WINDOW = 64


def platform_count(db: Path, agent_id: str) -> int:
    import sqlite3

    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute("SELECT count(*) FROM records WHERE agent_id=?", (agent_id,)).fetchone()[0]
    finally:
        conn.close()


def raw_paho_rate(port: int, payload: bytes, count: int, client_id: str, first_id: int = 0,
                  nodelay: bool = False) -> tuple[float, float, float]:
    """PUBACKs per second, when the first message was published (``perf_counter``), and
    this process's CPU seconds per message meanwhile (both of paho's threads).

    ``nodelay``: Nagle's algorithm off on the client's socket, as the agent has it; paho's
    default leaves it on."""
    done = threading.Event()
    window = threading.BoundedSemaphore(WINDOW)  # our own window: paho's internal queue stays empty
    acked = 0

    def on_publish(_c, _u, _mid, _rc, _p) -> None:
        nonlocal acked
        acked += 1
        window.release()
        if acked == count:
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    # distinct ids, so the platform stores (and so really receives) every raw message
    payload = payload.replace(b'"agent_id":"bench-agent"', b'"agent_id":"%s"' % client_id.encode())
    prefix, rest = payload.split(b'"id":"', 1)
    payloads = [prefix + b'"id":"' + f"{n:08x}".encode() + rest[8:]
                for n in range(first_id, first_id + count)]
    client.max_inflight_messages_set(WINDOW)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    if nodelay:
        client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.loop_start()
    t0, cpu0 = time.perf_counter(), time.process_time()
    for body in payloads:
        window.acquire()
        client.publish(f"scfs/v1/{client_id}/rec/food_sample", body, qos=1)
    done.wait()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    client.loop_stop()
    client.disconnect()
    return count / elapsed, t0, cpu / count


def platform_rate(db: Path, count: int, t0: float, agent_id: str) -> float:
    """Wait until the platform has stored the raw messages (so the agent's run does not queue
    behind them); messages per second from the raw loop's first publish to the last stored.

    The platform stores while the raw loop publishes, and the agent's end-to-end rate can be
    no higher than the rate at which the platform stores and acks: if this figure is near the
    agent's, the platform, not the agent, is what bounds the drain."""
    deadline = time.monotonic() + 600
    while (stored := platform_count(db, agent_id)) < count:
        if time.monotonic() > deadline:
            raise SystemExit("the platform did not store the raw messages: check its log")
        time.sleep(0.02 if stored > count * 0.98 else 0.2)
    return count / (time.perf_counter() - t0)


def fill_backlog(db: Path, count: int) -> bytes:
    store = Store(db)
    futures = [store.submit_record(draft()) for _ in range(count)]
    payload = b""
    for fut in futures:
        payload = fut.result().payload.encode()
    store.close()
    return payload


def agent_config(tmp: Path, port: int) -> Path:
    path = tmp / "agent.yaml"
    path.write_text(yaml.safe_dump({
        "identity": {"agent_id": "bench-agent", "school_id": "5101040042", "canteen_id": "k1"},
        "broker": {"host": "127.0.0.1", "port": port, "inflight_max": WINDOW},
        "store": {"path": str(tmp / "agent.db"), "media_dir": str(tmp / "media")},
        "vision": {"enabled": False},
        "console": {"enabled": False},
    }))
    return path


def outbox_count(db: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(db, timeout=10)
    try:
        return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
    finally:
        conn.close()


def drain_rate(config: Path, count: int) -> tuple[float, list[float], float]:
    """The agent as its own process (``canteen-agent run``): records/s from its first ack
    to an empty outbox, its own resident memory (VmRSS of that process) meanwhile, and the
    CPU seconds it used per record over the same span (user + system, all its threads:
    a figure a busy machine disturbs less than a rate)."""
    db = Path(yaml.safe_load(config.read_text())["store"]["path"])
    log = config.with_suffix(".log").open("w")
    agent = subprocess.Popen([sys.executable, "-m", "agent", "run", "--config", str(config)],
                             stdout=log, stderr=subprocess.STDOUT)
    memory: list[float] = []
    try:
        while (left := outbox_count(db)) >= count:  # started, connected, first acks applied
            if agent.poll() is not None:
                raise SystemExit(f"the agent exited: see {config.with_suffix('.log')}")
            time.sleep(0.05)
        t0, first, cpu0 = time.perf_counter(), left, process_cpu_s(agent.pid)
        while left > 0:
            time.sleep(0.2)
            memory.append(process_rss_mb(agent.pid))
            left = outbox_count(db)
        elapsed = time.perf_counter() - t0
        cpu = process_cpu_s(agent.pid) - cpu0
    finally:
        agent.terminate()
        agent.wait(30)
        log.close()
    return first / elapsed, memory, cpu / first


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def process_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def start_platform(port: int, tmp: Path, instance: int = 0) -> subprocess.Popen:
    """One instance of the reference platform; instances share the load (``$share``) and the database."""
    proc = subprocess.Popen([sys.executable, "-m", "simulator.platform.platform", "--port", str(port),
                             "--db", str(tmp / "platform.db"), "--client-id", f"bench-platform-{instance}",
                             "--no-validate"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert "listening" in proc.stdout.readline()
    return proc


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--platforms", type=int, default=2, help="platform instances sharing the load")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        # autosave rarely: saving a deep queue every second would measure the disk, not the link
        broker = Broker(tmp / "broker", max_inflight_messages=100, autosave_interval_s=1800).start()
        platforms = [start_platform(broker.port, tmp, n) for n in range(args.platforms)]
        try:
            payload = fill_backlog(tmp / "agent.db", args.records)
            print(f"backlog of {args.records:,} records ({len(payload)} bytes each); window {WINDOW}; "
                  f"{args.platforms} platform instance(s)")
            raw, raw_t0, raw_cpu = raw_paho_rate(broker.port, payload, args.records, "raw-bench")
            print(f"raw paho QoS 1 publish loop      : {raw:9.0f} msg/s (PUBACK only), "
                  f"{raw_cpu * 1e6:.0f} us CPU per message (paho's defaults: Nagle on)")
            stored = platform_rate(tmp / "platform.db", args.records, raw_t0, "raw-bench")
            print(f"platform storing the raw messages: {stored:9.0f} msg/s (first publish to last stored; "
                  "its own ceiling is at least this)")
            fast, fast_t0, fast_cpu = raw_paho_rate(broker.port, payload, args.records, "raw-nodelay",
                                                 first_id=args.records, nodelay=True)
            print(f"the same loop with TCP_NODELAY   : {fast:9.0f} msg/s (PUBACK only), "
                  f"{fast_cpu * 1e6:.0f} us CPU per message (Nagle off, as the agent has it)")
            stored = platform_rate(tmp / "platform.db", args.records, fast_t0, "raw-nodelay")
            print(f"platform storing those           : {stored:9.0f} msg/s")
            rate, memory, cpu = drain_rate(agent_config(tmp, broker.port), args.records)
            print(f"agent outbox drain, platform acks: {rate:9.0f} records/s (acked end to end)")
            print(f"agent process CPU per record     : {cpu * 1e6:9.0f} us (user + system, all threads)")
            print(f"ratio to the raw loop            : {rate / raw:9.2f}   (target >= 0.8)")
            print(f"ratio to the raw loop, Nagle off : {rate / fast:9.2f}   (like for like)")
            if memory:
                settled = memory[len(memory) // 5:] or memory
                print(f"agent process RSS during the drain: start {memory[0]:.1f} MB, min {min(settled):.1f}, "
                      f"max {max(settled):.1f}, end {memory[-1]:.1f} MB "
                      f"(spread after warm-up {100 * (max(settled) - min(settled)) / min(settled):.1f}%)")
        finally:
            for platform in platforms:
                platform.terminate()
                platform.wait(10)
            broker.stop()


if __name__ == "__main__":
    main()
