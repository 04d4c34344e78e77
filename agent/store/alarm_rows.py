"""How an alarm becomes rows: the raise and the clear the writer runs, each with its record
in the same transaction (an alarm is raised once until it is cleared)."""

from __future__ import annotations

import json

from agent.store.record_rows import RecordDraft, Saved, insert_records
from agent.store.writer import StoreConnection


def raise_alarm_rows(conn: StoreConnection, key: str, draft: RecordDraft) -> Saved | None:
    row = conn.execute("SELECT state FROM alarms WHERE key=?", (key,)).fetchone()
    if row is not None and row[0] == "raised":
        return None
    saved = insert_records(conn, [draft])[0]
    data = draft.envelope["data"]
    conn.execute(
        "INSERT OR REPLACE INTO alarms(key, kind, severity, subject, state, raised_id, raised_at, message)"
        " VALUES (?,?,?,?, 'raised', ?,?,?)",
        (key, data["kind"], data["severity"], json.dumps(data["subject"], ensure_ascii=False),
         saved.id, draft.envelope["occurred_at"], data["message"]))
    return saved


def clear_alarm_rows(conn: StoreConnection, key: str, draft: RecordDraft) -> Saved | None:
    row = conn.execute("SELECT raised_id FROM alarms WHERE key=? AND state='raised'", (key,)).fetchone()
    if row is None:
        return None
    envelope = dict(draft.envelope)
    envelope["data"] = {**envelope["data"], "raised_id": row[0]}
    saved = insert_records(conn, [RecordDraft(envelope, draft.priority, draft.day)])[0]  # re-serialised
    conn.execute("UPDATE alarms SET state='cleared', cleared_id=?, cleared_at=? WHERE key=?",
                 (saved.id, envelope["occurred_at"], key))
    return saved
