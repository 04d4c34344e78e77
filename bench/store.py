"""Store benchmark: group commit against one commit per record, durability on.

    ./dev.sh bench store [--records 1000000] [--producers 8] [--window 64]

Both modes run in this one process, side by side, with ``synchronous=FULL`` (a
commit is on disk before an add returns). Then the store grows to ``--records``
records while the process's resident memory is sampled: it should stay flat.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path

from agent.store import Priority, RecordDraft, Store
from agent.timeutil import uuid7

TEMPLATE = {
    "v": 1, "type": "food_sample", "agent_id": "bench-agent", "school_id": "5101040042",
    "canteen_id": "k1", "occurred_at": "2026-11-30T11:31:05.120+08:00",
    "recorded_at": "2026-11-30T11:31:05.300+08:00", "clock": {"synced": True, "source": "ntp"},
    "source": {"device_id": "scale-1", "kind": "scale"}, "operator": {"staff_id": "S017", "badge": None},
    "verdict": "pass", "findings": [],
    "data": {"meal": "lunch", "dish": "番茄炒蛋", "grams": 131.5, "min_grams": 125.0,
             "sampled_at": "2026-11-30T11:31:05.120+08:00", "kept_until": "2026-12-02T11:31:05.120+08:00",
             "fridge_id": "sample-fridge", "container": None},
    "media": [],
}


def draft() -> RecordDraft:
    return RecordDraft({**TEMPLATE, "id": uuid7()}, Priority.RECORD, "2026-11-30")


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def producers_rate(store: Store, producers: int, per_producer: int, window: int) -> float:
    """Records/s when ``producers`` threads each keep up to ``window`` adds outstanding
    (``window=1``: each thread waits for every add before the next, like a workflow)."""
    start = threading.Barrier(producers + 1)

    def produce() -> None:
        start.wait()
        pending: list[Future] = []
        for _ in range(per_producer):
            pending.append(store.submit_record(draft()))
            if len(pending) >= window:
                pending.pop(0).result()
        for fut in pending:
            fut.result()

    threads = [threading.Thread(target=produce) for _ in range(producers)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return producers * per_producer / (time.perf_counter() - t0)


def compare(tmp: Path, producers: int, window: int, per_producer_group: int,
            per_producer_single: int) -> None:
    print(f"== group commit vs one commit per record: {producers} producer threads, up to {window} adds"
          " outstanding each, synchronous=FULL (power-cut durable)")
    single = Store(tmp / "single.db", group_commit_max=1)
    single_rate = producers_rate(single, producers, per_producer_single, window)
    single.close()
    group = Store(tmp / "group.db")
    group_rate = producers_rate(group, producers, per_producer_group, window)
    commits, ops = group.writer.commits, group.writer.ops
    group.close()
    print(f"one commit per record : {single_rate:10.0f} records/s")
    print(f"group commit          : {group_rate:10.0f} records/s  ({ops / max(commits, 1):.0f} records per commit)")
    print(f"ratio                 : {group_rate / single_rate:10.1f}x   (target >= 20x and >= 10,000/s)")
    blocking = Store(tmp / "blocking.db")
    blocking_rate = producers_rate(blocking, 32, 300, window=1)
    blocking.close()
    print(f"(for reference: 32 threads each waiting on every add: {blocking_rate:.0f} records/s)")


def grow(tmp: Path, total: int, window: int = 2048) -> None:
    print(f"\n== memory while the store grows to {total:,} records (pipelined producer)")
    store = Store(tmp / "grow.db")
    pending: list[Future] = []
    samples: list[tuple[int, float]] = []
    step = max(total // 10, 1)
    t0 = time.perf_counter()
    for n in range(1, total + 1):
        pending.append(store.submit_record(draft()))
        if len(pending) >= window:
            for fut in pending:
                fut.result()
            pending.clear()
        if n % step == 0:
            for fut in pending:
                fut.result()
            pending.clear()
            samples.append((n, rss_mb()))
            print(f"  {n:>9,} records  rss {samples[-1][1]:7.1f} MB  {n / (time.perf_counter() - t0):8.0f}/s")
    store.close()
    base = samples[0][1]
    worst = max(abs(mb - base) / base for _, mb in samples)
    print(f"rss from {samples[0][0]:,} to {total:,} records: {base:.1f} -> {samples[-1][1]:.1f} MB, "
          f"max deviation {worst * 100:.1f}% (target within 10%)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--producers", type=int, default=8)
    parser.add_argument("--window", type=int, default=64, help="adds outstanding per producer")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        compare(Path(tmp), args.producers, args.window, per_producer_group=40_000 // args.producers,
                per_producer_single=1_000 // args.producers)
        grow(Path(tmp), args.records)


if __name__ == "__main__":
    main()
