"""An ack finds its rows by id, whatever the backlog: the planner must not walk the
``delivered_at`` index (every undelivered record) for each batch of acked ids."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agent.store import Store
from agent.store.outbox_rows import ACK_STATEMENTS
from bench.store import draft


def test_each_ack_statement_searches_by_id_and_marks_the_records_delivered(tmp_path: Path) -> None:
    store = Store(tmp_path / "agent.db")
    try:
        saved = [store.submit_record(draft()).result() for _ in range(300)]
        ids = [s.id for s in saved]
        conn = sqlite3.connect(tmp_path / "agent.db")
        try:
            marks = ",".join("?" * 3)
            for statement in ACK_STATEMENTS:
                sql = statement.format(marks=marks)
                params = [*ids[:3]] if sql.count("?") == 3 else ["2026-12-07T00:00:00Z", *ids[:3]]
                plan = " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
                assert "delivered_at" not in plan, (sql, plan)
                assert "id=?)" in plan, (sql, plan)
        finally:
            conn.close()
        assert store.ack(ids[:200]) == 200
        delivered = store.query("SELECT count(*) FROM records WHERE delivered_at IS NOT NULL")[0][0]
        assert delivered == 200
        assert store.query("SELECT count(*) FROM outbox")[0][0] == 100
    finally:
        store.close()
