"""Traceability benchmark: a batch to its meals, diners and samples, and a meal back to its
batches, on a generated year of a 1,500-diner canteen.

    ./dev.sh bench trace [--days 365] [--diners 1500] [--queries 300]

A suspected food-poisoning case needs the answer in seconds on a Pi; this reports p50 and
p99 of both directions over random batches and meals (each question answered from the
records, as ``canteen-agent trace`` and the console's trace page do), beside the stock page's
on-hand figure over the whole year and the same questions with the trace indexes dropped
(what the indexes are worth, measured side by side in this run).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from agent.config_file.model import AgentConfig
from agent.core.recorder import ClockMonitor, Recorder
from agent.core.stock import on_hand
from agent.schedule.trace import trace_batch, trace_meal
from agent.store import Store
from agent.store.schema import _TRACE_INDEXES
from simulator.year import generate_year


def timed(fn: Callable[[], object], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def line(name: str, samples: list[float]) -> str:
    return (f"{name:<34} p50 {pct(samples, 50):8.1f} ms   p99 {pct(samples, 99):8.1f} ms   "
            f"max {max(samples):8.1f} ms   mean {statistics.fmean(samples):7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--diners", type=int, default=1500)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-trace-") as tmp:
        config = AgentConfig.model_validate({
            "identity": {"agent_id": "bench", "school_id": "5101040042", "canteen_id": "k1"},
            "store": {"path": str(Path(tmp) / "agent.db"), "media_dir": str(Path(tmp) / "media")},
            "console": {"enabled": False}, "vision": {"enabled": False}})
        with Store(config.store.path, config.store.media_dir) as store:
            tz = config.identity.tz
            recorder = Recorder(config, store, lambda: datetime.now(tz), ClockMonitor(lambda: (True, "bench")))
            t0 = time.perf_counter()
            year = generate_year(recorder, date(2025, 9, 1), args.days, diners=args.diners)
            took = time.perf_counter() - t0
            size = sum(p.stat().st_size for p in Path(tmp).glob("agent.db*")) / 1e6
            print(f"== a generated year: {args.days} days, {args.diners} diners: {year.records} records, "
                  f"{len(year.receipts)} batches ({len(year.issued)} issued), {len(year.meals)} meals; "
                  f"written in {took:.1f} s; "
                  f"store {size:.0f} MB")
            rng = random.Random(7)
            issued = sorted(year.issued)  # a suspected batch is one that reached meals
            batches = [rng.choice(issued) for _ in range(args.queries)]
            meals = [rng.choice(year.meals) for _ in range(args.queries)]
            it_b, it_m = iter(batches), iter(meals)
            forward = timed(lambda: trace_batch(store, next(it_b)), args.queries)
            back = timed(lambda: trace_meal(store, *next(it_m)), args.queries)
            def first_look() -> None:  # a store just opened (an agent's start, a command line)
                with Store(config.store.path, config.store.media_dir) as fresh:
                    on_hand(fresh)

            first_stock = timed(first_look, 3)
            on_hand(store)  # this store's first look (timed above on fresh ones)
            stock = timed(lambda: on_hand(store), 20)
            found = trace_batch(store, batches[0])
            print(f"(one batch: {len(found[0].meals)} meals, {found[0].diners} diners, "
                  f"{sum(len(u.meal.samples) for u in found[0].meals)} samples; "
                  f"one meal: {len(trace_meal(store, *meals[0]).batches)} batches)")
            print(f"\n== trace, {args.queries} random questions each way (the indexes of the trace migration)")
            print(line("batch -> meals, diners, samples", forward))
            print(line("meal -> batches, suppliers, papers", back))
            print(line("on hand, first look at a store", first_stock))
            print(line("on hand, each look after (stock page)", stock))
            store.write(lambda conn: [conn.execute(f"DROP INDEX {name}") for name in _TRACE_INDEXES])
            it_b, it_m = iter(batches), iter(meals)
            rounds = max(10, args.queries // 10)
            forward_bare = timed(lambda: trace_batch(store, next(it_b)), rounds)
            back_bare = timed(lambda: trace_meal(store, *next(it_m)), rounds)
            print(f"\n== the same without the trace indexes ({rounds} questions each way)")
            print(line("batch -> meals, diners, samples", forward_bare))
            print(line("meal -> batches, suppliers, papers", back_bare))
            print(f"\nratio (p50, without / with the indexes): batch {pct(forward_bare, 50) / pct(forward, 50):.0f}x, "
                  f"meal {pct(back_bare, 50) / pct(back, 50):.0f}x;  target: p99 well under 1 s both ways")


if __name__ == "__main__":
    main()
