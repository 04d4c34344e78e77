"""SD-card writes: a realistic canteen day played through the agent's store, bytes physically written.

    ./dev.sh bench sdcard [--hours 24] [--workdir DIR]

A Raspberry Pi's store lives on an SD card, which wears out by the bytes written to it.
This plays one full day of a 1,500-diner canteen's devices at their configured rates,
not the fast demo: 18 Modbus devices polled every ``poll_s`` (10 s, the default): six
fridges and a sample fridge, three freezers, two stores (temperature and humidity), four
disinfection cabinets (PT100, two cycles a day) and two digital-input modules (UV lamps
and ozone, two runs a day each), through the agent's real workflows (cold chain,
disinfection, premises, device health) and ``Recorder`` on a real ``Store`` with its
configured durability, on a ManualClock (the day runs in a minute or two). People add
the day's records at their hours: 80 staff health checks, 27 food samples (9 dishes a
meal). The platform acks every item a moment after it is queued, through the
uplink's own ack path (``agent.uplink.delivery.AckQueue``).

Physical bytes: ``write_bytes`` of the store's writer thread (``/proc/self/task/<tid>/io``:
what reached the block layer: WAL frames and checkpoints into the database file),
measured around each step of the day and attributed to what the step wrote: records
(people's and the workflows'), telemetry (samples, batches, hourly figures), acks; the
checkpoints the writer runs itself are counted apart. Logical bytes: what the store
holds of each kind at the end of the day (payloads, sample rows, the hourly figures).
The figure to keep low is physical / logical (target <= 20x).
"""

from __future__ import annotations

import argparse
import math
import sqlite3
import sys
import tempfile
import threading
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agent.config_file.model import AgentConfig
from agent.core.recorder import ClockMonitor, Recorder
from agent.core.timeutil import ManualClock
from agent.records.food_sample import FoodSample
from agent.records.staff_health_check import StaffHealthCheck
from agent.store import Store
from agent.uplink.delivery import AckQueue
from agent.workflows.cold_chain import ColdChain
from agent.workflows.device_health import DeviceHealthWatch, modbus_policy
from agent.workflows.disinfection import Disinfection
from agent.workflows.modbus_points import modbus_device_ids, point_roles
from agent.workflows.premises import Premises
from drivers.readings import RegisterSample

TZ = ZoneInfo("Asia/Shanghai")
TARGET = 20.0


def devices() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    slave = 0

    def add(**device: Any) -> None:
        nonlocal slave
        slave += 1
        out.append({"slave": slave, **device})

    for n in range(6):
        add(id=f"fridge-{n + 1}", profile="xy-md02", role="fridge", room="kitchen")
    add(id="sample-fridge", profile="xy-md02", role="fridge", room="kitchen")
    for n in range(3):
        add(id=f"freezer-{n + 1}", profile="rs-ws-n01", role="freezer")
    add(id="store-1", profile="xy-md02", role="store", room="dry_store")
    add(id="store-2", profile="xy-md02", role="store", room="store_room")
    for n in range(4):
        add(id=f"cabinet-{n + 1}", profile="cabinet-pt100", role="cabinet")
    add(id="io-1", profile="di-module-4ch", role="uv_lamp", room="kitchen",
        channels=[{"point": "run_2", "role": "ozone", "room": "store_room"}])
    add(id="io-2", profile="di-module-4ch", role="uv_lamp", room="dry_store")
    return out


def agent_config(workdir: Path) -> AgentConfig:
    return AgentConfig.model_validate({
        "identity": {"agent_id": "sdcard-1", "school_id": "5101040042", "canteen_id": "k1"},
        "store": {"path": str(workdir / "agent.db"), "media_dir": str(workdir / "media")},
        "console": {"enabled": False},
        "vision": {"enabled": False},
        "modbus": [{"kind": "modbus_rtu", "id": "line-1", "port": "/dev/null-modbus", "devices": devices()}],
    })


def values_at(device: dict[str, Any], at: datetime) -> dict[str, float]:
    """Plausible readings: cold rooms wobble, cabinets run 06:30 and 14:00, lamps 21:00 and 05:00."""
    minute = at.hour * 60 + at.minute
    wobble = math.sin(at.timestamp() / 900 + device["slave"]) * 0.6
    profile = device["profile"]
    if device["role"] == "fridge":
        return {"temperature_c": round(3.5 + wobble, 1), "humidity_pct": round(75 + 3 * wobble, 1)}
    if device["role"] == "freezer":
        return {"humidity_pct": round(60 + wobble, 1), "temperature_c": round(-20 + wobble, 1)}
    if device["role"] == "store":
        return {"temperature_c": round(19 + wobble, 1), "humidity_pct": round(55 + wobble, 1)}
    if device["role"] == "cabinet":
        running = any(start <= minute < start + 40 for start in (6 * 60 + 30, 14 * 60))
        return {"temperature_c": round((125.0 if running else 24.0) + wobble, 1)}
    assert profile == "di-module-4ch"
    on = 1.0 if any(start <= minute < start + 45 for start in (21 * 60, 5 * 60)) else 0.0
    return {"run": on, "run_2": on, "run_3": 0.0, "run_4": 0.0}


class WriterIo:
    """write_bytes of the store's writer thread, read on demand."""

    def __init__(self) -> None:
        self.tid: int | None = None

    def read(self) -> int:
        if self.tid is None:
            self.tid = next(t.native_id for t in threading.enumerate() if t.name == "store-writer")
        text = Path(f"/proc/self/task/{self.tid}/io").read_text()
        return int(text.split("write_bytes:")[1].split()[0])


def logical_bytes(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        def one(sql: str) -> int:
            return int(conn.execute(sql).fetchone()[0] or 0)

        return {
            "records": one("SELECT sum(length(payload)) FROM records"),
            "record_count": one("SELECT count(*) FROM records"),
            "telemetry": one("SELECT sum(length(device_id) + length(t) + length(\"values\")) FROM telemetry")
            + one("SELECT sum(length(key) + length(value)) FROM kv WHERE key LIKE 'cold_chain:hours:%'"),
            "telemetry_rows": one("SELECT count(*) FROM telemetry"),
            "database_file": db.stat().st_size,
        }
    finally:
        conn.close()


def play_day(workdir: Path, hours: float, *, defer_s: float | None = None) -> dict[str, Any]:
    config = agent_config(workdir)
    defer = config.store.telemetry_defer_s if defer_s is None else defer_s
    start = datetime(2026, 12, 1, 0, 0, tzinfo=TZ)
    clock = ManualClock(start)
    store = Store(config.store.path, config.store.media_dir,
                  telemetry_defer_s=defer, monotonic=clock.monotonic)
    recorder = Recorder(config, store, clock, ClockMonitor(lambda: (True, "ntp")))
    roles = point_roles(config)
    cold = ColdChain(config, recorder, roles)
    disinfection = Disinfection(config, recorder, roles, mono=clock.monotonic)
    premises = Premises(config, recorder, roles, mono=clock.monotonic)
    health = DeviceHealthWatch(recorder, monotonic=clock.monotonic)
    health.watch(modbus_device_ids(config), modbus_policy(config.rules.cold_chain.probe_silent_minutes))
    workflows = [cold, disinfection, premises, health]
    acks = AckQueue(store)
    io = WriterIo()
    physical: Counter[str] = Counter()
    cursor: dict[Any, int] = {}
    people = people_schedule(start)
    step = config.modbus[0].devices[0].poll_s

    commits: Counter[str] = Counter()

    def measured(kind: str, action: Any) -> Any:
        before, checkpoints_before = io.read(), store.writer.checkpoint_bytes
        commits_before = store.writer.commits
        value = action()
        commits[kind] += store.writer.commits - commits_before
        checkpoint = store.writer.checkpoint_bytes - checkpoints_before
        physical[kind] += io.read() - before - checkpoint
        physical["checkpoints"] += checkpoint
        return value

    def workflow_step(action: Any) -> None:
        """The workflows' writes: telemetry, unless the step stored a record (a cycle, an alarm)."""
        seq = store.last_seq()
        kind = "telemetry"
        before, checkpoints_before, commits_before = io.read(), store.writer.checkpoint_bytes, store.writer.commits
        action()
        if store.last_seq() != seq:
            kind = "records"
        checkpoint = store.writer.checkpoint_bytes - checkpoints_before
        physical[kind] += io.read() - before - checkpoint
        physical["checkpoints"] += checkpoint
        commits[kind] += store.writer.commits - commits_before

    def platform_acks() -> None:
        """The platform acks what was queued (the uplink hands acks to the store as they come)."""
        items = store.outbox_next(10_000, cursor)
        for item in items:
            cursor[item.priority] = max(cursor.get(item.priority, 0), item.n)
        acks.add([item.id for item in items], {item.id for item in items if item.kind == "telemetry"})
        acks.settle()  # (the uplink does not wait; the bench does, to count the bytes here)

    store.writer.checkpoint_bytes  # noqa: B018 - the writer thread exists from here on
    t = 0.0
    while t < hours * 3600:
        now = start + timedelta(seconds=t)
        clock.set(now)
        for device in config.modbus[0].devices:
            reading = RegisterSample(device_id=device.id, at=now, mono=clock.monotonic(),
                                     values=values_at(device.model_dump(), now))
            workflow_step(lambda r=reading: [w.on_reading(r) for w in workflows if w.wants(r)])
        workflow_step(lambda at=now: [w.tick(at) for w in workflows])
        while people and people[0][0] <= now:
            _, data = people.pop(0)
            measured("records", lambda d=data: recorder.record(d))
        measured("acks", platform_acks)
        t += step
    measured("telemetry", store.flush_deferred)
    store.close()
    figures = logical_bytes(Path(config.store.path))
    return {"physical": physical, "logical": figures, "checkpoints": store.writer.checkpoints,
            "commits": store.writer.commits, "commits_by_kind": commits}


def people_schedule(start: datetime) -> list[tuple[datetime, Any]]:
    out: list[tuple[datetime, Any]] = []
    for n in range(80):  # the morning check at the door, 06:30-07:30
        at = start + timedelta(hours=6, minutes=30, seconds=45 * n)
        out.append((at, StaffHealthCheck(staff_id=f"S{n:03d}", temperature_c=36.5,
                                         normal_range_c=(35.9, 37.3))))
    for meal, hour in (("breakfast", 7), ("lunch", 11), ("dinner", 17)):
        for n in range(9):
            at = start + timedelta(hours=hour, minutes=2 * n)
            out.append((at, FoodSample(meal=meal, dish=f"dish {n}", grams=130, min_grams=125, sampled_at=at,
                                       kept_until=at + timedelta(hours=48), fridge_id="sample-fridge")))
    return sorted(out, key=lambda pair: pair[0])


def report(result: dict[str, Any]) -> float:
    physical, logical = result["physical"], result["logical"]
    total_physical = sum(physical.values())
    total_logical = logical["records"] + logical["telemetry"]
    print(f"one canteen day through the store: {logical['record_count']} records, "
          f"{logical['telemetry_rows']} telemetry rows, {result['commits']} commits, "
          f"{result['checkpoints']} checkpoints by the writer")
    print(f"  {'kind':12} {'physical B':>14} {'logical B':>12} {'ratio':>8} {'commits':>8}")
    rows = [("records", physical["records"], logical["records"]),
            ("telemetry", physical["telemetry"], logical["telemetry"]),
            ("acks", physical["acks"], None), ("checkpoints", physical["checkpoints"], None)]
    for name, phys, log_ in rows:
        ratio = f"{phys / log_:.1f}x" if log_ else "-"
        print(f"  {name:12} {phys:>14,} {log_ if log_ is not None else '':>12} {ratio:>8} "
              f"{result['commits_by_kind'].get(name, ''):>8}")
    amplification = total_physical / max(1, total_logical)
    print(f"  {'total':12} {total_physical:>14,} {total_logical:>12,} {amplification:>7.1f}x"
          f"  ({'within' if amplification <= TARGET else 'ABOVE'} the {TARGET:g}x target)")
    print(f"  database file at the end of the day: {logical['database_file']:,} B")
    return amplification


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench sdcard", description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0, help="hours of the day to play")
    parser.add_argument("--workdir", default=None, help="keep the store here (default: a temporary directory)")
    parser.add_argument("--defer-s", type=float, default=None,
                        help="store.telemetry_defer_s for this run (default: the config's)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-sdcard-", dir=Path.cwd()) as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"store.telemetry_defer_s={args.defer_s if args.defer_s is not None else 'config default'}")
        amplification = report(play_day(workdir, args.hours, defer_s=args.defer_s))
    return 0 if amplification <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
