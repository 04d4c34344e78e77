"""Store benchmark: group commit against one commit per record, durability on.

    ./dev.sh bench store [--records 1000000] [--producers 8] [--window 64]

The store first grows to ``--records`` records while the process's resident memory
is sampled: it should stay flat. Then both modes run in this one process, side by
side, with ``synchronous=FULL`` (a commit is on disk before an add returns), next to
the disk's fdatasync time and the same transactions on a bare connection (the ceiling
SQLite and this disk allow).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

from agent.core.timeutil import uuid7
from agent.store import Pending, Priority, RecordDraft, Store
from agent.store.record_rows import insert_records
from agent.store.schema import migrate
from agent.store.store import CHECKPOINT_WAL_BYTES
from agent.store.writer import open_connection

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


def fdatasync_ms(tmp: Path, rounds: int = 200) -> float:
    """What one durable commit costs at least on this disk: a 4 KiB write and fdatasync."""
    fd = os.open(tmp / "fsync.probe", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        t0 = time.perf_counter()
        for i in range(rounds):
            os.pwrite(fd, b"\0" * 4096, (i % 16) * 4096)
            os.fdatasync(fd)
        return (time.perf_counter() - t0) / rounds * 1000
    finally:
        os.close(fd)


def producers_rate(store: Store, producers: int, per_producer: int, window: int) -> float:
    """Records/s when ``producers`` threads each keep up to ``window`` adds outstanding
    (``window=1``: each thread waits for every add before the next, like a workflow).

    The drafts are made before the clock starts: building a record (validation, JSON)
    is the workflow's cost, not the store's, and is reported on its own.
    """
    pools = [[draft() for _ in range(per_producer)] for _ in range(producers)]
    start = threading.Barrier(producers + 1)

    def produce(drafts: list[RecordDraft]) -> None:
        start.wait()
        pending: deque[Pending] = deque()
        for one in drafts:
            pending.append(store.submit_record(one))
            if len(pending) >= window:
                pending.popleft().result()
        for fut in pending:
            fut.result()

    threads = [threading.Thread(target=produce, args=(pool,)) for pool in pools]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return producers * per_producer / (time.perf_counter() - t0)


def bare_rate(path: Path, count: int, per_commit: int) -> float:
    """The store's own transaction (BEGIN, insert, seq, COMMIT) on a bare connection in this
    thread: no writer thread, no producers. What SQLite and this disk allow at most."""
    conn = open_connection(str(path), "power_cut")
    migrate(conn)
    # the store's own checkpoint policy (agent.store.store), so both copy the WAL back as often
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    conn.execute(f"PRAGMA wal_autocheckpoint={max(1000, CHECKPOINT_WAL_BYTES // page_size)}")
    conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('seq', '0')")
    drafts = [draft() for _ in range(count)]
    t0 = time.perf_counter()
    for i in range(0, count, per_commit):
        conn.execute("BEGIN IMMEDIATE")
        insert_records(conn, drafts[i:i + per_commit])
        conn.seq_flush()
        conn.execute("COMMIT")
    rate = count / (time.perf_counter() - t0)
    conn.close()
    return rate


def compare(tmp: Path, producers: int, window: int, group_records: int, single_records: int) -> None:
    print(f"\n== disk: a 4 KiB write + fdatasync takes {fdatasync_ms(tmp):.2f} ms here")
    t0 = time.perf_counter()
    for _ in range(5000):
        draft()
    print(f"== making a record draft (JSON, rows) in the producer: {(time.perf_counter() - t0) / 5 * 1000:.1f} us")
    print(f"\n== group commit vs one commit per record: {producers} producer threads, up to {window} adds"
          " outstanding each, synchronous=FULL (power-cut durable)")
    single = Store(tmp / "single.db", group_commit_max=1)
    single_rate = producers_rate(single, producers, single_records // producers, window)
    single.close()
    group = Store(tmp / "group.db")
    group_rate = producers_rate(group, producers, group_records // producers, window)
    commits, ops = group.writer.commits, group.writer.ops
    group.close()
    print(f"one commit per record : {single_rate:10.0f} records/s")
    print(f"group commit          : {group_rate:10.0f} records/s  ({ops / max(commits, 1):.0f} records per commit)")
    print(f"ratio                 : {group_rate / single_rate:10.1f}x   (target >= 20x and >= 10,000/s)")
    bare_single = bare_rate(tmp / "bare-single.db", single_records, 1)
    bare_group = bare_rate(tmp / "bare-group.db", group_records, 512)
    print(f"ceiling: the same transactions on a bare connection, one thread: {bare_single:.0f}/s one per commit,"
          f" {bare_group:.0f}/s 512 per commit, ratio {bare_group / bare_single:.1f}x;"
          f" the store reaches {group_rate / bare_group * 100:.0f}% of it")
    # The store's batches are what the producers keep outstanding (8 x 64 = 512 in all, split
    # between the commit on the disk and the next one), so fewer than 512 on average; the
    # ceiling above stays at 512 (the target), this line only says how much that costs.
    per_commit = max(1, round(ops / max(commits, 1)))
    bare_same = bare_rate(tmp / "bare-same.db", group_records, per_commit)
    print(f"(for reference: the bare connection at the store's own {per_commit} per commit: {bare_same:.0f}/s,"
          f" the store reaches {group_rate / bare_same * 100:.0f}% of that)")
    blocking = Store(tmp / "blocking.db")
    blocking_rate = producers_rate(blocking, 32, 300, window=1)
    blocking.close()
    print(f"(for reference: 32 threads each waiting on every add: {blocking_rate:.0f} records/s)")


def grow(tmp: Path, total: int, window: int = 2048) -> None:
    print(f"== memory while the store grows to {total:,} records (pipelined producer)")
    store = Store(tmp / "grow.db")
    pending: list[Pending] = []
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
    parser.add_argument("--skip-grow", action="store_true", help="only the comparison with its ceiling")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        # Growth first: the comparison's prepared drafts would otherwise inflate the baseline RSS.
        if not args.skip_grow:
            grow(Path(tmp), args.records)
        compare(Path(tmp), args.producers, args.window, group_records=40_000, single_records=2_000)


if __name__ == "__main__":
    main()
