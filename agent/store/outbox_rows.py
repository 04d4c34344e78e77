"""The outbox's rows in the writer: an item queued, and the platform's acks (the item leaves
the outbox; its record or media is marked delivered, in the same transaction)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from agent.store.schema import Priority


@dataclass(frozen=True)
class OutboxItem:
    n: int
    id: str
    priority: Priority
    kind: str  # record | alarm | telemetry | media
    ref: str  # what it is about: the record type, "alarm", the device id, the media id
    payload: str | None
    enqueued_at: str


@dataclass(frozen=True)
class ClassDepth:
    priority: Priority
    count: int
    oldest: str | None


def enqueue_row(conn: sqlite3.Connection, item_id: str, priority: Priority, kind: str, ref: str,
             payload: str | None, at: str) -> None:
    conn.execute("INSERT INTO outbox(id, priority, kind, ref, payload, enqueued_at) VALUES (?,?,?,?,?,?)",
                 (item_id, int(priority), kind, ref, payload, at))


# What an ack does to the rows, one statement each, for up to 500 ids ({marks}). Each finds
# its rows by id. ``+delivered_at`` keeps SQLite's planner off the ``delivered_at`` index:
# without statistics it preferred "delivered_at IS NULL" to the 500 ids, and so walked every
# undelivered record for each batch (a 100k backlog drained at a few hundred acks a second).
ACK_STATEMENTS = (
    "DELETE FROM outbox WHERE id IN ({marks})",
    "UPDATE records SET delivered_at=? WHERE id IN ({marks}) AND +delivered_at IS NULL",
    "UPDATE media SET delivered_at=? WHERE id IN ({marks}) AND +delivered_at IS NULL",
    "DELETE FROM media_progress WHERE media_id IN ({marks})",
)


def ack_rows(conn: sqlite3.Connection, ids: list[str], when: str) -> int:
    removed = 0
    for start in range(0, len(ids), 500):  # stay under SQLite's variable limit
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        delete_outbox, mark_records, mark_media, forget_chunks = (s.format(marks=marks) for s in ACK_STATEMENTS)
        removed += conn.execute(delete_outbox, chunk).rowcount
        conn.execute(mark_records, [when, *chunk])
        conn.execute(mark_media, [when, *chunk])
        conn.execute(forget_chunks, chunk)
    return removed
