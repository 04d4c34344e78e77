"""A store migrated by a newer agent is undone by the older one a rolled-back update
returns to (agent/store/schema.py: each inverse is stored beside its step), with every
record and outbox item kept; without an inverse the older agent refuses, changing nothing."""

from __future__ import annotations

import sqlite3

import pytest

from agent.store import Store, schema

NEXT = len(schema.MIGRATIONS) + 1  # a newer release's one more step


def _v4(db) -> None:
    db.execute("ALTER TABLE records ADD COLUMN note TEXT")
    db.execute("CREATE TABLE v4_only (x INTEGER)")


V4_DOWN = ["DROP TABLE v4_only", "ALTER TABLE records DROP COLUMN note"]


def test_every_migration_from_v4_on_has_its_inverse():
    assert set(range(schema.REVERSIBLE_FROM, len(schema.MIGRATIONS) + 1)) <= set(schema.DOWNGRADES)


def _records(path) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from agent.core.recorder import Recorder
    from agent.records.waste_disposal import WasteDisposal
    from tests.conftest import make_config

    store = Store(path)
    at = datetime(2026, 12, 1, 8, tzinfo=ZoneInfo("Asia/Shanghai"))
    recorder = Recorder(make_config(path.parent), store, lambda: at)
    for kg in (1.5, 2.5):
        recorder.record(WasteDisposal(kind="kitchen_waste", kg=kg, collector="licensed co."))
    store.close()


def test_an_older_agent_undoes_a_newer_schema_and_keeps_the_records(tmp_path, monkeypatch):
    path = tmp_path / "agent.db"
    _records(path)  # made by the running (older) version, two records waiting in the outbox
    with monkeypatch.context() as newer:  # the new release of an update: one more step
        newer.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, _v4])
        newer.setattr(schema, "DOWNGRADES", {**schema.DOWNGRADES, NEXT: V4_DOWN})
        store = Store(path)
        store.write(lambda conn: conn.execute("INSERT INTO v4_only VALUES (1)"))
        before = [dict(r) for r in store.query("SELECT id FROM outbox ORDER BY n")]
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == NEXT
    store = Store(path)  # the older version again, after the rollback
    try:
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == NEXT - 1
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            assert "v4_only" not in tables
            assert conn.execute("SELECT count(*) FROM schema_downgrades WHERE version >= ?",
                                (NEXT,)).fetchone()[0] == 0
        assert [dict(r) for r in store.query("SELECT id FROM outbox ORDER BY n")] == before
        assert len(before) == 2 and len(store.query("SELECT id FROM records")) == 2
    finally:
        store.close()


def test_without_an_inverse_the_older_agent_refuses_and_changes_nothing(tmp_path, monkeypatch):
    path = tmp_path / "agent.db"
    with monkeypatch.context() as newer:
        newer.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, _v4])
        Store(path).close()
    with pytest.raises(RuntimeError, match="cannot be undone"):
        Store(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == NEXT


def test_telemetry_by_time_undone_keeps_the_samples(tmp_path, monkeypatch):
    """The step that keys telemetry by time, undone by an agent before it: every sample kept."""
    path = tmp_path / "agent.db"
    store = Store(path)
    store.add_telemetry("b1", "fridge-1", {"id": "b1", "device_id": "fridge-1", "kind": "temperature",
                                           "samples": [{"t": "2026-12-01T08:00:00+08:00", "temperature_c": 3.5}]},
                        [("2026-12-01T08:00:00+08:00", {"temperature_c": 3.5}),
                         ("2026-12-01T08:01:00+08:00", {"temperature_c": 3.6})])
    store.close()
    step = schema.MIGRATIONS.index(schema._telemetry_by_time)
    with monkeypatch.context() as older:
        older.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:step])
        Store(path).close()
        with sqlite3.connect(path) as conn:
            rows = conn.execute("SELECT device_id, t FROM telemetry ORDER BY t").fetchall()
            assert conn.execute("PRAGMA index_list(telemetry)").fetchall()  # the t index is back
    assert rows == [("fridge-1", "2026-12-01T08:00:00+08:00"), ("fridge-1", "2026-12-01T08:01:00+08:00")]
    store = Store(path)  # and forward again
    try:
        assert len(store.query("SELECT * FROM telemetry")) == 2
    finally:
        store.close()
