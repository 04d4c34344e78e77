"""The store's tables, created and migrated with sqlite-utils.

``SCHEMA_VERSION`` counts migrations; each entry in ``MIGRATIONS`` brings a database
from version i to i+1 inside one transaction, so a power cut mid-migration leaves
the old schema intact.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
from collections.abc import Callable
from enum import IntEnum
from pathlib import Path
from typing import Any


def _import_sqlite_utils_without_numpy() -> None:
    """sqlite-utils imports numpy (and pandas) when installed, for column types we never
    use: ~17 MB resident on a box whose only numpy user is vision. Hide them while it
    loads (once, at the first store open, before any camera starts)."""
    hidden = [name for name in ("numpy", "pandas") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # "import numpy" raises ImportError
    try:
        import sqlite_utils  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name) is None:
                del sys.modules[name]


_import_sqlite_utils_without_numpy()
import sqlite_utils  # noqa: E402


class Priority(IntEnum):
    """Outbox classes, drained in this order (docs/PLATFORM.md: incidents, then alarms and health first).

    ``URGENT`` (an incident report) was added below the first class's number, so rows
    stored before it keep their numbers and no migration is needed."""

    URGENT = -1
    ALARM = 0
    HEALTH = 1
    RECORD = 2
    MEDIA = 3
    TELEMETRY = 4


PRIORITY_BY_NAME = {"urgent": Priority.URGENT, "alarm": Priority.ALARM, "health": Priority.HEALTH, "record": Priority.RECORD,
                    "media": Priority.MEDIA, "telemetry": Priority.TELEMETRY}


def _v1(db: sqlite_utils.Database) -> None:
    db.table("meta").create({"key": str, "value": str}, pk="key")
    db.table("records").create(
        {"id": str, "seq": int, "type": str, "day": str, "occurred_at": str, "recorded_at": str,
         "verdict": str, "source_id": str, "staff_id": str, "payload": str,
         "keep_until": str, "delivered_at": str},
        pk="id", not_null={"seq", "type", "day", "payload"},
    )
    db.table("records").create_index(["seq"], unique=True)
    db.table("records").create_index(["type", "day"])
    db.table("records").create_index(["delivered_at"])
    db.execute("CREATE TABLE outbox (n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, "
               "priority INTEGER NOT NULL, kind TEXT NOT NULL, topic TEXT NOT NULL, "
               "payload TEXT, enqueued_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0)")
    db.table("outbox").create_index(["priority", "n"])
    db.table("alarms").create(
        {"key": str, "kind": str, "severity": str, "subject": str, "state": str,
         "raised_id": str, "raised_at": str, "cleared_id": str, "cleared_at": str, "message": str},
        pk="key",
    )
    db.table("alarms").create_index(["state"])
    db.table("media").create(
        {"id": str, "path": str, "content_type": str, "bytes": int, "sha256": str,
         "record_id": str, "role": str, "created_at": str, "delivered_at": str, "evicted": int},
        pk="id",
    )
    db.table("media").create_index(["created_at"])
    db.table("media_progress").create({"media_id": str, "chunk": int}, pk=("media_id", "chunk"))
    db.table("telemetry").create(
        {"device_id": str, "t": str, "values": str}, pk=("device_id", "t"))
    db.table("telemetry").create_index(["t"])
    db.table("staff").create(
        {"staff_id": str, "name": str, "role": str, "badges": str,
         "health_cert_expires_on": str, "on_duty": int, "updated_at": str},
        pk="staff_id",
    )
    db.table("badges").create({"badge": str, "staff_id": str}, pk="badge")
    db.table("duty").create({"day": str, "staff_id": str, "fit": int, "reason": str, "record_id": str},
                      pk=("day", "staff_id"))
    db.table("commands").create(
        {"id": str, "name": str, "received_at": str, "ok": int, "result": str}, pk="id")
    db.table("kv").create({"key": str, "value": str, "updated_at": str}, pk="key")


def _v2(db: sqlite_utils.Database) -> None:
    """``outbox.n`` never reused (AUTOINCREMENT).

    A plain INTEGER PRIMARY KEY hands out max(n)+1, so once the newest items are acked
    and deleted the next item gets an n the uplink's cursors have already passed, and it
    waited unsent until the next reconnect.
    """
    db.execute("ALTER TABLE outbox RENAME TO outbox_v1")
    db.execute("CREATE TABLE outbox (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, "
               "priority INTEGER NOT NULL, kind TEXT NOT NULL, topic TEXT NOT NULL, "
               "payload TEXT, enqueued_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0)")
    db.execute("INSERT INTO outbox(n, id, priority, kind, topic, payload, enqueued_at, attempts)"
               " SELECT n, id, priority, kind, topic, payload, enqueued_at, attempts FROM outbox_v1")
    db.execute("DROP TABLE outbox_v1")
    db.table("outbox").create_index(["priority", "n"])


def _v3(db: sqlite_utils.Database) -> None:
    """The store knows nothing of MQTT, and fitness for duty has one source of truth.

    ``outbox.topic`` (``rec/<type>``, ``alarm``, ``tele/<device>``, ``media/<id>``)
    becomes ``outbox.ref``: what the item is about (the record type, ``alarm``, the
    device id, the media id); the uplink maps (kind, ref) to a topic. Undelivered
    items are carried over with their number, and the AUTOINCREMENT high-water mark
    with them. The ``duty`` table goes: fitness is read from the day's
    ``staff_health_check`` records.
    """
    db.execute("ALTER TABLE outbox RENAME TO outbox_v2")
    db.execute("CREATE TABLE outbox (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, "
               "priority INTEGER NOT NULL, kind TEXT NOT NULL, ref TEXT NOT NULL, "
               "payload TEXT, enqueued_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0)")
    db.execute("INSERT INTO outbox(n, id, priority, kind, ref, payload, enqueued_at, attempts)"
               " SELECT n, id, priority, kind,"
               " CASE WHEN instr(topic, '/') > 0 THEN substr(topic, instr(topic, '/') + 1) ELSE topic END,"
               " payload, enqueued_at, attempts FROM outbox_v2")
    db.execute("DELETE FROM sqlite_sequence WHERE name = 'outbox'")
    db.execute("INSERT INTO sqlite_sequence(name, seq) SELECT 'outbox', seq FROM sqlite_sequence"
               " WHERE name = 'outbox_v2'")
    db.execute("DROP TABLE outbox_v2")
    db.table("outbox").create_index(["priority", "n"])
    db.execute("DROP TABLE IF EXISTS duty")


# what traceability looks records up by (issue 25): the batch a movement names, a batch's
# code on its receipt, and the day and meal an issue was for. Indexes on expressions of
# the payload: nothing is copied out of the record, so nothing can drift from it.
_TRACE_INDEXES = {
    "records_trace_receipt": "records(type, json_extract(payload, '$.data.receipt_id'))",
    "records_trace_batch": "records(type, json_extract(payload, '$.data.batch'))",
    "records_trace_meal": "records(type, json_extract(payload, '$.data.served_on'), json_extract(payload, '$.data.meal'))",
}


def _trace_indexes(db: sqlite_utils.Database) -> None:
    """Indexes for stock and traceability (from a batch to its meals and back)."""
    for name, on in _TRACE_INDEXES.items():
        db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {on}")


def _basic_data(db: sqlite_utils.Database) -> None:
    """The school's basic data (issue 23): the canteen's profile, staff, suppliers and
    contractors, fixed assets, one row each with its version and who changed it, when and
    from where (``agent.store.basic_rows``). The staff already on the roster are copied in
    (origin ``config``: the YAML or the platform's roster seeded them)."""
    db.execute("CREATE TABLE basic_data (entity TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, "
               "value TEXT NOT NULL, changed_at TEXT, changed_by TEXT, changed_from TEXT, record_id TEXT, "
               "PRIMARY KEY (entity, id))")
    db.execute("INSERT INTO basic_data(entity, id, version, value, changed_at, changed_by, changed_from)"
               " SELECT 'staff', staff_id, 1, json_object('staff_id', staff_id, 'name', name, 'post', role,"
               " 'badges', json(coalesce(badges, '[]')), 'health_cert_valid_until', health_cert_expires_on,"
               " 'active', json(CASE WHEN on_duty THEN 'true' ELSE 'false' END)),"
               " updated_at, 'config', 'config' FROM staff")


def _telemetry_by_time(db: sqlite_utils.Database) -> None:
    """Telemetry kept in time order (an SD card's writes).

    The samples of all devices are written together every few minutes; keyed by
    (device_id, t) they landed on one index page per device (and the rowid table and a
    ``t`` index besides), each page rewritten whole into the WAL. Keyed by (t, device_id)
    in a table WITHOUT ROWID they are appended to the end of one b-tree: a few pages
    per write, and retention (``t < cutoff``) reads the same key."""
    db.execute("CREATE TABLE telemetry_by_time (t TEXT NOT NULL, device_id TEXT NOT NULL, \"values\" TEXT,"
               " PRIMARY KEY (t, device_id)) WITHOUT ROWID")
    db.execute("INSERT OR REPLACE INTO telemetry_by_time(t, device_id, \"values\")"
               " SELECT t, device_id, \"values\" FROM telemetry")
    db.execute("DROP TABLE telemetry")
    db.execute("ALTER TABLE telemetry_by_time RENAME TO telemetry")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _trace_indexes, _basic_data,
                                                            _telemetry_by_time]
SCHEMA_VERSION = len(MIGRATIONS)
# Every migration after v3 carries its inverse: the SQL that brings version N back to N-1.
# A remote update may be undone after its new version migrated the store (agent/updater/),
# and the older version it returns to does not know the newer schema: so each inverse is
# stored in the database itself, beside the step it undoes, and any version undoes what
# it finds above its own. tests/test_store.py holds new migrations to this.
DOWNGRADES: dict[int, list[str]] = {
    MIGRATIONS.index(_trace_indexes) + 1: [f"DROP INDEX IF EXISTS {name}" for name in _TRACE_INDEXES],
    MIGRATIONS.index(_basic_data) + 1: ["DROP TABLE IF EXISTS basic_data"],
    MIGRATIONS.index(_telemetry_by_time) + 1: [
        "CREATE TABLE telemetry_by_device ([device_id] TEXT, [t] TEXT, [values] TEXT, PRIMARY KEY ([device_id], [t]))",
        "INSERT INTO telemetry_by_device(device_id, t, \"values\") SELECT device_id, t, \"values\" FROM telemetry",
        "DROP TABLE telemetry",
        "ALTER TABLE telemetry_by_device RENAME TO telemetry",
        "CREATE INDEX [idx_telemetry_t] ON [telemetry] ([t])",
    ],
}
REVERSIBLE_FROM = 4


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to this agent's schema version; return the version found."""
    db = sqlite_utils.Database(conn)
    target = len(MIGRATIONS)
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found == 0:
        # Must precede the first table: lets the disk budget hand freed pages back.
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    conn.execute("CREATE TABLE IF NOT EXISTS schema_downgrades (version INTEGER PRIMARY KEY, statements TEXT NOT NULL)")
    if found > target:
        _downgrade(conn, found, target)
        return found
    for version in range(found, target):
        with db.atomic():  # one transaction per step, its inverse stored in the same one
            MIGRATIONS[version](db)
            if version + 1 in DOWNGRADES:
                conn.execute("INSERT OR REPLACE INTO schema_downgrades(version, statements) VALUES (?, ?)",
                             (version + 1, json.dumps(DOWNGRADES[version + 1])))
            conn.execute(f"PRAGMA user_version = {version + 1}")
    return found


def _downgrade(conn: sqlite3.Connection, found: int, target: int) -> None:
    """Undo the steps above ``target`` with the inverses the newer agent left, in one
    transaction; RuntimeError (nothing changed) if any is missing."""
    stored = dict(conn.execute("SELECT version, statements FROM schema_downgrades WHERE version > ?", (target,)))
    missing = [v for v in range(target + 1, found + 1) if v not in stored]
    if missing:
        raise RuntimeError(f"database schema v{found} is newer than this agent (v{target}) and cannot be "
                           f"undone (no inverse for v{missing[0]}); upgrade the agent or restore a backup")
    conn.execute("BEGIN IMMEDIATE")
    try:
        for version in range(found, target, -1):
            for statement in json.loads(stored[version]):
                conn.execute(statement)
            conn.execute("DELETE FROM schema_downgrades WHERE version = ?", (version,))
        conn.execute(f"PRAGMA user_version = {target}")
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise


# tables every agent store has; a database without them is someone else's (the platform's)
STORE_TABLES = frozenset({"records", "outbox", "alarms", "meta"})


def read_kv(path: Path, key: str) -> Any:
    """One ``kv`` value of a store, read-only (another process, e.g. the doctor beside a
    running agent); None when the store or the key is not there. sqlite3.Error if unreadable."""
    if not path.is_file():
        return None
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)) as conn:
        found = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
    return json.loads(found[0]) if found and found[0] else None


def store_problem(path: Path) -> str | None:
    """Why ``path`` is not an agent store (None when it is one), found on a read-only
    connection: read-only commands must not turn a mistyped path or another program's
    database into an empty store."""
    if not path.is_file():
        return f"no agent store at {path}"
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        return f"{path} is not a readable SQLite database ({exc})"
    if not STORE_TABLES <= tables:
        return (f"{path} is not a canteen-agent store (it lacks the tables "
                f"{', '.join(sorted(STORE_TABLES - tables))}; the platform's database?)")
    return None
