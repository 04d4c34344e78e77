"""Memory and storage-write benchmark: what the agent costs a Pi-class box.

    ./dev.sh bench memory [--settle-s 12] [--skip-day]

1. Resident memory of a real ``canteen-agent run`` with ``config/minimal.yaml`` (target
   <= 60 MB: a box with no camera must not load OpenCV, onnxruntime or numpy), next to
   the same agent with one camera (the simulator's MJPEG camera), measured side by side
   in this one run, each after ``--settle-s`` seconds. Both talk to a Mosquitto of their
   own on a free port.
2. The bytes the agent's store writes to the disk during one simulated canteen day at
   the demo's load (``canteen-sim demo --fast``, run in this process): the physical
   writes of the agent's store-writer thread (``/proc/self/task/<tid>/io`` write_bytes:
   WAL frames and checkpoints into the database file), the logical bytes of what it
   holds (records, telemetry), and the media files. SD cards wear out: the ratio of
   physical to logical bytes is what the WAL and checkpoints cost.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from simulator.devices.cameras import MjpegServer, Script
from simulator.platform.broker import Broker

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = ROOT / "config" / "minimal.yaml"
HEAVY = {"cv2": "/cv2/", "onnxruntime": "/onnxruntime/", "numpy": "/numpy/"}  # name -> path part
TARGET_MB = 60.0


# --- 1. resident memory ------------------------------------------------------------------------


def agent_config(workdir: Path, cameras: list[dict[str, object]]) -> Path:
    data = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
    data["store"] = {"path": str(workdir / "agent.db"), "media_dir": str(workdir / "media")}
    if cameras:
        data["cameras"] = cameras
        data["vision"] = {"site_dir": str(workdir / "vision")}
    path = workdir / "agent.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def resident(pid: int) -> tuple[float, list[str]]:
    """VmRSS in MB and which heavy native libraries the process has mapped."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(status.split("VmRSS:")[1].split()[0])
    maps = Path(f"/proc/{pid}/maps").read_text()
    mapped = [name for name, part in HEAVY.items() if part in maps]
    return rss_kb / 1024, mapped


def measure_run(config: Path, broker_port: int, settle_s: float) -> tuple[float, list[str]]:
    env = {**os.environ, "CANTEEN__BROKER__PORT": str(broker_port), "OMP_NUM_THREADS": "1"}
    log = config.with_suffix(".log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "agent", "run", "--config", str(config)],
                               env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        time.sleep(settle_s)
        if process.poll() is not None:
            raise RuntimeError(f"agent exited with {process.returncode}: see {config.with_suffix('.log')}")
        return resident(process.pid)
    finally:
        process.terminate()
        process.wait(20)
        log.close()


def memory(settle_s: float) -> bool:
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        work = Path(tmp)
        camera = MjpegServer(Script.busy(120, "with_mask"), fps=10, prerender=True)
        camera.plug()
        try:
            with Broker(work / "broker") as broker:
                assert broker.port is not None
                (work / "minimal").mkdir()
                (work / "camera").mkdir()
                minimal = measure_run(agent_config(work / "minimal", []), broker.port, settle_s)
                one_camera = measure_run(agent_config(work / "camera", [{"id": "cam1", "url": camera.url}]),
                                         broker.port, settle_s)
        finally:
            camera.unplug()
    print(f"resident memory of `canteen-agent run` after {settle_s:g} s (VmRSS):")
    print(f"  {'config':28} {'MB':>7}  heavy libraries mapped")
    for name, (mb, mapped) in (("minimal.yaml", minimal), ("minimal.yaml + 1 MJPEG camera", one_camera)):
        print(f"  {name:28} {mb:7.1f}  {', '.join(mapped) or 'none'}")
    print(f"  camera adds {one_camera[0] - minimal[0]:.1f} MB; minimal "
          f"{'within' if minimal[0] <= TARGET_MB else 'ABOVE'} the {TARGET_MB:g} MB target")
    return minimal[0] <= TARGET_MB and not minimal[1]


# --- 2. storage writes per canteen day ---------------------------------------------------------


class WriterIo:
    """Samples the write_bytes of every ``store-writer`` thread of this process (cumulative per thread)."""

    def __init__(self, every_s: float = 0.2) -> None:
        self.every_s = every_s
        self.by_thread: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-io", daemon=True)

    def __enter__(self) -> WriterIo:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            for thread in threading.enumerate():
                if thread.name != "store-writer" or thread.native_id is None:
                    continue
                written = _task_write_bytes(thread.native_id)
                if written is not None:
                    self.by_thread[thread.native_id] = max(written, self.by_thread.get(thread.native_id, 0))

    @property
    def total(self) -> int:
        return sum(self.by_thread.values())


def _task_write_bytes(tid: int) -> int | None:
    try:
        text = Path(f"/proc/self/task/{tid}/io").read_text()
    except OSError:
        return None
    return int(text.split("write_bytes:")[1].split()[0])


def logical_bytes(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        def one(sql: str) -> int:
            return int(conn.execute(sql).fetchone()[0] or 0)

        return {
            "records": one("SELECT sum(length(payload)) FROM records"),
            "record_count": one("SELECT count(*) FROM records"),
            "telemetry": one("SELECT sum(length(device_id) + length(t) + length(\"values\")) FROM telemetry"),
            "telemetry_rows": one("SELECT count(*) FROM telemetry"),
            "media": one("SELECT sum(bytes) FROM media"),
            "database_file": db.stat().st_size,
        }
    finally:
        conn.close()


def storage_day() -> bool:
    from simulator.demo import run as demo

    with tempfile.TemporaryDirectory(prefix="bench-day-") as tmp:
        run_dir = Path(tmp) / "day"
        parser = argparse.ArgumentParser()
        demo.add_arguments(parser)
        args = parser.parse_args(["--fast", "--keep", str(run_dir), "--progress-s", "30"])
        process_before = _task_write_bytes_of_process()
        with WriterIo() as io:
            code = demo.run(args)
        process_written = _task_write_bytes_of_process() - process_before
        figures = logical_bytes(run_dir / "agent" / "agent.db")
    physical = io.total
    logical = figures["records"] + figures["telemetry"]
    print("\nbytes written to storage in one simulated canteen day (canteen-sim demo --fast):")
    print(f"  records      {figures['records']:>12,} B logical  ({figures['record_count']} records)")
    print(f"  telemetry    {figures['telemetry']:>12,} B logical  ({figures['telemetry_rows']} rows)")
    print(f"  store writes {physical:>12,} B physical (WAL frames + checkpoints + indexes, agent store-writer)"
          f" = {physical / max(1, logical):.1f}x the logical bytes")
    print(f"  media        {figures['media']:>12,} B (snapshots and clips, written once)")
    print(f"  database file at the end of the day: {figures['database_file']:,} B")
    print(f"  (the whole demo process, platform and logs included, wrote {process_written:,} B)")
    return code == 0


def _task_write_bytes_of_process() -> int:
    text = Path("/proc/self/io").read_text()
    return int(text.split("write_bytes:")[1].split()[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench memory", description=__doc__.splitlines()[0])
    parser.add_argument("--settle-s", type=float, default=12.0, help="seconds each agent runs before measuring")
    parser.add_argument("--skip-day", action="store_true", help="only the memory figures")
    args = parser.parse_args(argv)
    ok = memory(args.settle_s)
    if not args.skip_day:
        ok = storage_day() and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
