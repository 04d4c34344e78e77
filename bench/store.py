"""Store benchmark: group commit against one commit per record, durability on.

    ./dev.sh bench store [--records 1000000] [--producers 8] [--window 64]
                         [--skip-grow] [--compare-records 100000] [--rounds 5]

The store first grows to ``--records`` records while the process's resident memory
is sampled: it should stay flat. Then both modes run in this one process, side by
side, with ``synchronous=FULL`` (a commit is on disk before an add returns), next to
the disk's fdatasync time and the same transactions on a bare connection (the ceiling
SQLite and this disk allow). The store and its ceiling run in interleaved rounds (store,
bare, store, bare, ...) on the same drafts, each in a fresh file; each ratio is taken
within a round and reported as the median with its lowest and highest.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import threading
import time
from collections import Counter, deque
from pathlib import Path
from typing import NamedTuple

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


def producers_rate(store: Store, drafts: list[RecordDraft], producers: int, window: int) -> float:
    """Records/s when ``producers`` threads each keep up to ``window`` adds outstanding
    (``window=1``: each thread waits for every add before the next, like a workflow).

    The drafts are made before the clock starts: building a record (validation, JSON)
    is the workflow's cost, not the store's, and is reported on its own.
    """
    share = len(drafts) // producers
    pools = [drafts[i * share:(i + 1) * share] for i in range(producers)]
    start = threading.Barrier(producers + 1)

    def produce(pool: list[RecordDraft]) -> None:
        start.wait()
        pending: deque[Pending] = deque()
        for one in pool:
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
    return producers * share / (time.perf_counter() - t0)


def thread_cpu_s(native_id: int) -> float:
    """CPU seconds (user + system) a thread of this process has used, from /proc."""
    with open(f"/proc/self/task/{native_id}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class StoreRun(NamedTuple):
    rate: float  # records/s
    per_commit: float  # records per commit, on average
    writer_us: float  # the writer thread's CPU per record
    batches: Counter[int]  # commits by records in them


def store_run(path: Path, drafts: list[RecordDraft], producers: int, window: int) -> StoreRun:
    store = Store(path)
    rate = producers_rate(store, drafts, producers, window)
    writer = store.writer
    cpu = thread_cpu_s(writer.native_id) if writer.native_id is not None else float("nan")
    run = StoreRun(rate, writer.ops / max(writer.commits, 1), cpu / max(writer.ops, 1) * 1e6,
                   Counter(writer.batch_sizes))
    store.close()
    remove_db(path)
    return run


def bare_rate(path: Path, drafts: list[RecordDraft], per_commit: int) -> tuple[float, float]:
    """The store's own transaction (BEGIN, insert, seq, COMMIT) on a bare connection in this
    thread: no writer thread, no producers. What SQLite and this disk allow at most.
    Returns records/s and the thread's CPU per record (us)."""
    conn = open_connection(str(path), "power_cut")
    migrate(conn)
    # the store's own checkpoint policy (agent.store.store), so both copy the WAL back as often
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    conn.execute(f"PRAGMA wal_autocheckpoint={max(1000, CHECKPOINT_WAL_BYTES // page_size)}")
    conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('seq', '0')")
    count = len(drafts)
    cpu0, t0 = time.thread_time(), time.perf_counter()
    for i in range(0, count, per_commit):
        conn.execute("BEGIN IMMEDIATE")
        insert_records(conn, drafts[i:i + per_commit])
        conn.seq_flush()
        conn.execute("COMMIT")
    wall, cpu = time.perf_counter() - t0, time.thread_time() - cpu0
    conn.close()
    remove_db(path)
    return count / wall, cpu / count * 1e6


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def spread(values: list[float]) -> str:
    """The median with the lowest and highest of the rounds."""
    return f"median {statistics.median(values):6.1f}  (min {min(values):.1f}, max {max(values):.1f})"


def histogram(batches: Counter[int]) -> str:
    """Commits by batch size, in bands of 64 records (the last band ends at 512)."""
    bands: Counter[int] = Counter()
    for size, commits in batches.items():
        bands[min((size - 1) // 64, 7)] += commits
    total = sum(bands.values()) or 1
    return "  ".join(f"{band * 64 + 1}-{band * 64 + 64}: {bands[band] * 100 / total:.0f}%"
                     for band in range(8))


def compare(tmp: Path, producers: int, window: int, records: int, rounds: int, single_records: int) -> None:
    print(f"\n== disk: a 4 KiB write + fdatasync takes {fdatasync_ms(tmp):.2f} ms here")
    t0 = time.perf_counter()
    for _ in range(5000):
        draft()
    print(f"== making a record draft (JSON, rows) in the producer: {(time.perf_counter() - t0) / 5 * 1000:.1f} us")
    print(f"\n== group commit vs one commit per record: {producers} producer threads, up to {window} adds"
          " outstanding each, synchronous=FULL (power-cut durable)")
    single = Store(tmp / "single.db", group_commit_max=1)
    single_rate = producers_rate(single, [draft() for _ in range(single_records)], producers, window)
    single.close()
    bare_single, _ = bare_rate(tmp / "bare-single.db", [draft() for _ in range(single_records)], 1)
    print(f"one commit per record : {single_rate:10.0f} records/s  (bare connection, one thread: {bare_single:.0f}/s)")

    # Rounds, each a store run then the bare connection on the same drafts (fresh files):
    # the machine is shared, so a ratio is only taken between runs that lie side by side.
    drafts = [draft() for _ in range(records)]
    print(f"\n== the store against its ceiling: {rounds} rounds of {records:,} records, each the store"
          " (group commit) then the same records on a bare connection in one thread")
    print("   target line : the bare connection at 512 records per commit (the most the store ever"
          " commits at once; the issue's ceiling)")
    print("   reference   : the bare connection at the store's own average records per commit in that round")
    print(f"{'round':>5} {'store/s':>9} {'per commit':>10} {'writer us':>9} {'bare512/s':>9} {'us':>5}"
          f" {'% of 512':>8} {'same/s':>8} {'% of same':>9} {'load':>5}")
    runs: list[StoreRun] = []
    to_512: list[float] = []
    to_same: list[float] = []
    for n in range(1, rounds + 1):
        run = store_run(tmp / "group.db", drafts, producers, window)
        bare512, bare_us = bare_rate(tmp / "bare-512.db", drafts, 512)
        same, _ = bare_rate(tmp / "bare-same.db", drafts, max(1, round(run.per_commit)))
        runs.append(run)
        to_512.append(run.rate / bare512 * 100)
        to_same.append(run.rate / same * 100)
        print(f"{n:>5} {run.rate:9.0f} {run.per_commit:10.0f} {run.writer_us:9.1f} {bare512:9.0f} {bare_us:5.1f}"
              f" {to_512[-1]:7.0f}% {same:8.0f} {to_same[-1]:8.0f}% {os.getloadavg()[0]:5.1f}")
    rates = [run.rate for run in runs]
    print(f"group commit          : {spread(rates)} records/s;"
          f" {statistics.median(rates) / single_rate:.1f}x one commit per record (target >= 20x and >= 10,000/s)")
    print(f"store / bare at 512   : {spread(to_512)} %   (target >= 90 %)")
    print(f"store / bare at same  : {spread(to_same)} %   (reference: the same records per commit)")
    print(f"writer CPU per record : {spread([run.writer_us for run in runs])} us")
    print(f"records per commit    : {histogram(sum((run.batches for run in runs), Counter()))}")
    blocking = Store(tmp / "blocking.db")
    blocking_rate = producers_rate(blocking, [draft() for _ in range(32 * 300)], 32, window=1)
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
    parser.add_argument("--compare-records", type=int, default=100_000,
                        help="records per line and round of the comparison with the ceiling")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of store then bare connection")
    parser.add_argument("--skip-grow", action="store_true", help="only the comparison with its ceiling")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        # Growth first: the comparison's prepared drafts would otherwise inflate the baseline RSS.
        if not args.skip_grow:
            grow(Path(tmp), args.records)
        compare(Path(tmp), args.producers, args.window, args.compare_records, args.rounds, single_records=2_000)


if __name__ == "__main__":
    main()
