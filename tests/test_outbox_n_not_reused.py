"""Outbox numbers only grow: the uplink's per-class cursors skip everything at or below
the last number they handed out, so a reused number would leave an item unsent."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from agent.store import Priority, Store
from agent.store.schema import MIGRATIONS


def test_an_item_queued_after_the_newest_were_acked_gets_a_new_number(tmp_path: Path) -> None:
    store = Store(tmp_path / "agent.db")
    try:
        for n in range(3):
            store.add_telemetry(f"b{n}", "fridge-1", {"samples": []}, [])
        cursor = max(item.n for item in store.outbox_next(10))  # the uplink handed out all three
        store.ack(["b1", "b2"])
        store.add_telemetry("b3", "fridge-1", {"samples": []}, [])
        assert [item.id for item in store.outbox_next(10, {Priority.TELEMETRY: cursor})] == ["b3"]
    finally:
        store.close()


def test_a_version_1_database_keeps_its_queue(tmp_path: Path) -> None:
    path = tmp_path / "agent.db"
    conn = sqlite3.connect(path)
    MIGRATIONS[0](sqlite_utils.Database(conn))
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO outbox(id, priority, kind, topic, payload, enqueued_at)"
                 " VALUES ('old', 4, 'telemetry', 'tele/fridge-1', '{}', '2026-11-30T07:00:00+08:00')")
    conn.commit()
    conn.close()
    store = Store(path)
    try:
        assert [(i.n, i.id) for i in store.outbox_next(10)] == [(1, "old")]
        store.ack(["old"])
        store.add_telemetry("new", "fridge-1", {"samples": []}, [])
        assert [(i.n, i.id) for i in store.outbox_next(10)] == [(2, "new")]
    finally:
        store.close()
