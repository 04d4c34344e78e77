"""The reference platform's own SQLite: what it received, deduplicated by id.

Several platform instances (one share group) may use the same database file: every
insert is ``INSERT OR IGNORE`` keyed by the item's id, so a redelivered item is
stored once whichever instance gets it, and media chunks meet in the database even
when the broker hands them to different instances. One writer connection per
instance (its worker thread); queries open their own short-lived connection.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS records(
  id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, type TEXT NOT NULL, seq INTEGER,
  occurred_at TEXT, verdict TEXT, payload TEXT NOT NULL, received_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_agent_type ON records(agent_id, type);
CREATE TABLE IF NOT EXISTS telemetry(
  n INTEGER PRIMARY KEY, id TEXT UNIQUE, agent_id TEXT NOT NULL, device_id TEXT NOT NULL,
  kind TEXT, samples INTEGER NOT NULL, payload TEXT NOT NULL, received_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS status(
  agent_id TEXT PRIMARY KEY, online INTEGER, payload TEXT NOT NULL, received_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS command_results(
  id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, ok INTEGER, error TEXT, result TEXT,
  received_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS commands_sent(
  id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, name TEXT NOT NULL, payload TEXT NOT NULL,
  sent_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS media_manifests(
  id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, manifest TEXT NOT NULL, received_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS media_chunks(
  media_id TEXT NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY(media_id, n));
CREATE TABLE IF NOT EXISTS media(
  id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, content_type TEXT, bytes INTEGER NOT NULL,
  sha256 TEXT NOT NULL, record_id TEXT, role TEXT, path TEXT NOT NULL, received_at TEXT NOT NULL);
"""


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # an ack promises the item is durably stored
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class PlatformStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = connect(self.path)
        with self.transaction() as conn:
            for statement in _statements(SCHEMA):
                conn.execute(statement)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: another instance on the same file waits rather than failing."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # --- writes (inside transaction()) ---------------------------------------------

    @staticmethod
    def add_record(conn: sqlite3.Connection, agent_id: str, envelope: dict[str, Any], payload: str) -> bool:
        """True if new, False if this id was already stored (a duplicate)."""
        return conn.execute(
            "INSERT OR IGNORE INTO records(id, agent_id, type, seq, occurred_at, verdict, payload,"
            " received_at) VALUES (?,?,?,?,?,?,?,?)",
            (envelope["id"], agent_id, envelope["type"], envelope.get("seq"), envelope.get("occurred_at"),
             envelope.get("verdict"), payload, utcnow())).rowcount == 1

    @staticmethod
    def add_telemetry(conn: sqlite3.Connection, agent_id: str, batch: dict[str, Any], payload: str) -> bool:
        return conn.execute(
            "INSERT OR IGNORE INTO telemetry(id, agent_id, device_id, kind, samples, payload, received_at)"
            " VALUES (?,?,?,?,?,?,?)",
            (batch.get("id"), agent_id, batch["device_id"], batch.get("kind"), len(batch["samples"]),
             payload, utcnow())).rowcount == 1

    @staticmethod
    def set_status(conn: sqlite3.Connection, agent_id: str, status: dict[str, Any] | None) -> None:
        if status is None:  # an empty retained message clears the status
            conn.execute("DELETE FROM status WHERE agent_id=?", (agent_id,))
            return
        conn.execute("INSERT OR REPLACE INTO status(agent_id, online, payload, received_at) VALUES (?,?,?,?)",
                     (agent_id, _bool(status.get("online")), json.dumps(status, ensure_ascii=False),
                      utcnow()))

    @staticmethod
    def add_command_result(conn: sqlite3.Connection, agent_id: str, res: dict[str, Any]) -> bool:
        return conn.execute(
            "INSERT OR IGNORE INTO command_results(id, agent_id, ok, error, result, received_at)"
            " VALUES (?,?,?,?,?,?)",
            (res["id"], agent_id, _bool(res.get("ok")), res.get("error"),
             json.dumps(res.get("result"), ensure_ascii=False), utcnow())).rowcount == 1

    def add_command_sent(self, agent_id: str, command: dict[str, Any]) -> None:
        """From the caller's thread, on its own connection (the writer one is the worker's)."""
        conn = connect(self.path)
        try:
            conn.execute("INSERT OR REPLACE INTO commands_sent(id, agent_id, name, payload, sent_at)"
                         " VALUES (?,?,?,?,?)", (command["id"], agent_id, command["name"],
                                                 json.dumps(command, ensure_ascii=False), utcnow()))
        finally:
            conn.close()

    # --- reads (own connection, any thread) ------------------------------------------

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _bool(value: Any) -> int | None:
    return None if value is None else int(bool(value))
