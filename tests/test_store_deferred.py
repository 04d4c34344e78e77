"""Deferred telemetry (``store.telemetry_defer_s``): what waits in memory, what is on the disk.

Telemetry, the hourly figures and the acks of telemetry wait and go to the disk in one
commit once the oldest has waited ``telemetry_defer_s`` (or at close); records never
wait. What a power cut loses is read from the database file by another connection.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agent.core.timeutil import ManualClock
from agent.store import Store
from tests.test_store_downgrade import _records

BATCH = {"id": "b1", "device_id": "fridge-1", "kind": "temperature",
         "samples": [{"t": "2026-12-01T08:00:00+08:00", "temperature_c": 3.5}]}


def on_disk(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def make(tmp_path: Path, clock: ManualClock) -> Store:
    return Store(tmp_path / "agent.db", telemetry_defer_s=300, monotonic=clock.monotonic)


def test_telemetry_waits_then_goes_in_one_commit(tmp_path: Path, morning) -> None:
    clock = ManualClock(morning)
    store = make(tmp_path, clock)
    try:
        commits = store.writer.commits
        store.add_telemetry("b1", "fridge-1", BATCH, [("2026-12-01T08:00:00+08:00", {"temperature_c": 3.5})])
        store.kv_set_deferred("cold_chain:hours:2026-12-01@08:fridge-1", {"hour": "08", "n": 1})
        assert store.writer.commits == commits  # nothing written yet
        assert on_disk(store.path, "SELECT count(*) FROM telemetry") == [(0,)]  # a power cut now loses it
        assert store.kv_get("cold_chain:hours:2026-12-01@08:fridge-1") == {"hour": "08", "n": 1}
        assert store.kv_keys("cold_chain:hours:2026-12-01") == ["cold_chain:hours:2026-12-01@08:fridge-1"]
        clock.advance(301)
        store.add_telemetry("b2", "fridge-2", {**BATCH, "id": "b2", "device_id": "fridge-2"},
                            [("2026-12-01T08:05:00+08:00", {"temperature_c": 3.6})])
        assert store.writer.commits == commits + 1  # both batches and the figures, one commit
        assert on_disk(store.path, "SELECT count(*) FROM telemetry") == [(2,)]
        assert on_disk(store.path, "SELECT count(*) FROM kv WHERE key LIKE 'cold_chain:hours:%'") == [(1,)]
        assert [i.id for i in store.outbox_next(10)] == ["b1", "b2"]
    finally:
        store.close()


def test_records_never_wait_and_close_writes_what_waits(tmp_path: Path, morning) -> None:
    clock = ManualClock(morning)
    store = make(tmp_path, clock)
    store.add_telemetry("b1", "fridge-1", BATCH, [("2026-12-01T08:00:00+08:00", {"temperature_c": 3.5})])
    store.close()
    _records(tmp_path / "agent.db")  # records through the Recorder: on the disk when add returns
    assert on_disk(tmp_path / "agent.db", "SELECT count(*) FROM telemetry") == [(1,)]
    assert on_disk(tmp_path / "agent.db", "SELECT count(*) FROM records") == [(2,)]


def test_acks_of_telemetry_wait_but_the_outbox_figures_do_not_show_them(tmp_path: Path, morning) -> None:
    clock = ManualClock(morning)
    store = make(tmp_path, clock)
    try:
        store.add_telemetry("b1", "fridge-1", BATCH, [("2026-12-01T08:00:00+08:00", {"temperature_c": 3.5})])
        store.flush_deferred()
        assert sum(d.count for d in store.outbox_depth()) == 1
        store.ack_later(["b1"])
        assert sum(d.count for d in store.outbox_depth()) == 0  # acked: not waiting, as people see it
        assert not store.in_outbox("b1") and store.outbox_next(10) == []
        assert on_disk(store.path, "SELECT id FROM outbox") == [("b1",)]  # a crash now: sent once more
        clock.advance(301)
        store.flush_deferred_if_due()
        assert on_disk(store.path, "SELECT id FROM outbox") == []
    finally:
        store.close()


def test_a_newer_kv_set_wins_over_a_deferred_one(tmp_path: Path, morning) -> None:
    clock = ManualClock(morning)
    store = make(tmp_path, clock)
    try:
        store.kv_set_deferred("k", 1)
        store.kv_set("k", 2)
        clock.advance(301)
        store.flush_deferred()
        assert store.kv_get("k") == 2
    finally:
        store.close()
