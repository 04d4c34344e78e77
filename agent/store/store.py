"""The store: the only place the agent's state lives (SQLite, WAL, group commit).

Writes go through one writer thread (``agent.store.writer``) and return only after
their transaction has committed. Reads use one read-only connection per thread.
Every envelope gets its ``seq`` inside the transaction that stores it, from a counter
kept in the same database, so ``seq`` is strictly increasing across restarts and a
rolled-back add never burns a number.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from agent.store.alarm_rows import clear_alarm_rows, raise_alarm_rows
from agent.store.media_rows import MediaDraft, insert_media, remove_files, write_files
from agent.store.outbox_rows import ClassDepth, OutboxItem, ack_rows, enqueue_row
from agent.store.people import People
from agent.store.queries import Queries
from agent.store.record_rows import RecordDraft, Saved, insert_records
from agent.store.schema import PRIORITY_BY_NAME, Priority, migrate
from agent.store.writer import (
    Durability,
    GroupCommitWriter,
    Pending,
    StoreConnection,
    open_connection,
)

log = logging.getLogger("agent.store")
_ACK_PREFIX = "alarm_ack:"
CHECKPOINT_WAL_BYTES = 16 * 1024 * 1024

T = TypeVar("T")


class Store(People, Queries):
    """Durable state of one agent. Thread-safe; ``close()`` when done.

    Every SQL string of the agent is here, in ``agent.store.queries`` (named reads for
    workflows and the schedule) or in the row modules (``record_rows``, ``media_rows``);
    nothing outside ``agent.store`` writes SQL.
    """

    def __init__(self, path: str | os.PathLike[str], media_dir: str | os.PathLike[str] | None = None,
                 *, durability: Durability = "power_cut", group_commit_max: int = 512,
                 telemetry_defer_s: float = 0.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        """``telemetry_defer_s``: telemetry writes (``add_telemetry``, ``kv_set_deferred``)
        wait in memory and go to the disk together, in one transaction, once the oldest has
        waited this long (or at ``flush_deferred``/``close``): an SD card is worn by every
        small commit. What a power cut or crash can lose is that much telemetry; records and
        alarms are never deferred. 0: every such write commits at once."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.media_dir = Path(media_dir) if media_dir else self.path.parent / "media"
        self.media_dir.mkdir(parents=True, exist_ok=True)
        self.durability = durability
        conn = open_connection(str(self.path), durability)
        migrate(conn)
        conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('seq', '0')")
        # A checkpoint copies every page changed since the last one back into the database
        # file: the rarer, the fewer bytes (a page changed a hundred times is copied once).
        # Once the WAL holds ~16 MiB (SQLite's default: 1000 pages, 4 MiB with 4 KiB pages);
        # the WAL is as durable as the file, so this costs only reads a little.
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        self._writer = GroupCommitWriter(conn, max_batch=group_commit_max,
                                         checkpoint_pages=max(1000, CHECKPOINT_WAL_BYTES // page_size))
        self._defer_s = telemetry_defer_s
        self._monotonic = monotonic
        self._deferred: list[Callable[[StoreConnection], None]] = []
        self._deferred_kv: dict[str, tuple[str, str]] = {}  # key -> (value, at): the last write wins
        self._deferred_since: float | None = None
        self._acked_waiting: set[str] = set()  # acked, the outbox rows go with the deferred write
        self._deferred_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    # --- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        try:
            self.flush_deferred()
        except Exception:  # noqa: BLE001 - closing: log, and close the writer regardless
            log.exception("deferred telemetry not written at close")
        self._writer.close()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def writer(self) -> GroupCommitWriter:
        return self._writer

    def write(self, op: Callable[[StoreConnection], T]) -> T:
        """Run a write op ``op(conn)`` in the group-commit writer; return after commit."""
        return self._writer.submit(op).result()

    def _read(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = open_connection(str(self.path), self.durability, readonly=True)
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """A raw read, for the store's own modules and for tests; the agent uses named queries."""
        return self._read().execute(sql, tuple(params)).fetchall()

    # --- records ---------------------------------------------------------------------

    def submit_record(self, draft: RecordDraft) -> Pending[Saved]:
        """Queue a record; the Pending resolves to ``Saved`` once committed (inserted with
        the other records of its batch, in multi-row INSERTs)."""
        return self._writer.submit_many(draft, insert_records)

    def add_record(self, draft: RecordDraft) -> Saved:
        """Store a record and queue it for the platform; returns after commit."""
        return self.submit_record(draft).result()

    def add_record_once(self, key: str, marker: Any, draft: RecordDraft, at: str | None = None) -> Saved | None:
        """Store a record and set the kv ``key`` to ``marker``, unless ``key`` is set already:
        then None, and nothing is written (a confirmation that must exist once per key).

        Check and write are one op of the writer, so one ``BEGIN IMMEDIATE`` transaction:
        it holds SQLite's write lock and reads the latest commit, so neither another thread
        nor another process on this store (the CLI beside the agent) can commit the same
        key in between. The kv primary key is the unique key; no lock file needed.
        """
        return self.add_record_once_with_media(key, marker, draft, [], at)

    def add_record_once_with_media(self, key: str, marker: Any, draft: RecordDraft, media: list[MediaDraft],
                                   at: str | None = None) -> Saved | None:
        """``add_record_once`` with the media the record names (``add_record_with_media``):
        the key, the record and its media commit together, or none of them (None when
        ``key`` was set before; the media files are removed again)."""
        text = json.dumps(marker, ensure_ascii=False)
        when = at or _utcnow()

        def op(conn: StoreConnection, paths: list[Path]) -> Saved | None:
            claimed = conn.execute("INSERT OR IGNORE INTO kv(key, value, updated_at) VALUES (?,?,?)",
                                   (key, text, when)).rowcount == 1
            if not claimed:
                return None
            saved = insert_records(conn, [draft])[0]
            for item, path in zip(media, paths, strict=True):
                insert_media(conn, item, path, draft.id)
            return saved

        paths = write_files(self.media_dir, media)
        try:
            saved = self.write(lambda conn: op(conn, paths))
        except Exception:
            remove_files(paths)
            raise
        if saved is None:
            remove_files(paths)
        return saved

    def get_record(self, record_id: str) -> dict[str, Any] | None:
        row = self._read().execute("SELECT payload FROM records WHERE id=?", (record_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def last_seq(self) -> int:
        return int(self._read().execute("SELECT value FROM meta WHERE key='seq'").fetchone()[0])

    # --- alarms ----------------------------------------------------------------------

    def raise_alarm(self, key: str, draft: RecordDraft) -> Saved | None:
        """Raise an alarm unless one with this key is already open (then None)."""
        return self.write(lambda conn: raise_alarm_rows(conn, key, draft))

    def clear_alarm(self, key: str, draft: RecordDraft) -> Saved | None:
        """Clear the open alarm with this key (None if none is open).

        The draft's ``data.raised_id`` is filled in with the id of the raise.
        """
        return self.write(lambda conn: clear_alarm_rows(conn, key, draft))

    def open_alarms(self) -> list[sqlite3.Row]:
        return self.query("SELECT * FROM alarms WHERE state='raised' ORDER BY raised_at")

    def alarm_is_open(self, key: str) -> bool:
        return bool(self.query("SELECT 1 FROM alarms WHERE key=? AND state='raised'", (key,)))

    def alarm_by_raise(self, raised_id: str) -> sqlite3.Row | None:
        """The alarm whose raise envelope has this id (open or cleared)."""
        rows = self.query("SELECT * FROM alarms WHERE raised_id=?", (raised_id,))
        return rows[0] if rows else None

    def recent_alarms(self, limit: int = 200) -> list[sqlite3.Row]:
        """The latest state of each alarm key, newest raise first."""
        return self.query("SELECT * FROM alarms ORDER BY raised_at DESC LIMIT ?", (int(limit),))

    def acknowledge_alarm(self, raised_id: str, by: str, at: str, note: str | None = None) -> bool:
        """Note that a person has seen an open alarm, with an optional note (local state: v1
        alarms are raised or cleared); False when it was acknowledged before."""
        return self.kv_set_if_absent(_ACK_PREFIX + raised_id, {"by": by, "at": at, "note": note}, at)

    def alarm_acknowledgements(self) -> dict[str, dict[str, Any]]:
        """raised_id -> {"by", "at"} for every acknowledged alarm."""
        rows = self.query("SELECT key, value FROM kv WHERE key GLOB ?", (_ACK_PREFIX + "*",))
        return {r[0][len(_ACK_PREFIX):]: json.loads(r[1]) for r in rows}

    # --- telemetry -------------------------------------------------------------------

    def add_telemetry(self, batch_id: str, device_id: str, batch: dict[str, Any],
                      samples: list[tuple[str, dict[str, Any]]]) -> None:
        """Keep downsampled samples locally and queue the batch for the platform."""
        payload = json.dumps(batch, separators=(",", ":"), ensure_ascii=False)
        rows = [(device_id, t, json.dumps(v)) for t, v in samples]
        at = batch["samples"][-1]["t"] if batch.get("samples") else _utcnow()

        def op(conn: sqlite3.Connection) -> None:
            conn.executemany("INSERT OR REPLACE INTO telemetry(device_id, t, \"values\") VALUES (?,?,?)", rows)
            enqueue_row(conn, batch_id, Priority.TELEMETRY, "telemetry", device_id, payload, at)

        self._defer(op)

    def kv_set_deferred(self, key: str, value: Any, at: str | None = None) -> None:
        """``kv_set`` for telemetry's own notes (hourly figures): written with the deferred
        telemetry (see ``telemetry_defer_s``); ``kv_get`` sees it at once."""
        text = json.dumps(value, ensure_ascii=False)
        with self._deferred_lock:
            self._deferred_kv[key] = (text, at or _utcnow())
        self._defer(None)

    def _defer(self, op: Callable[[StoreConnection], None] | None) -> None:
        with self._deferred_lock:
            if op is not None:
                self._deferred.append(op)
            if self._deferred_since is None:
                self._deferred_since = self._monotonic()
            due = self._monotonic() - self._deferred_since >= self._defer_s
        if due:
            self.flush_deferred()

    def ack_later(self, ids: Iterable[str], at: str | None = None) -> None:
        """``ack`` for telemetry: written with the deferred telemetry (at once when nothing is
        deferred). Until then the outbox's figures and ``outbox_next`` leave these ids out."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return
        if self._defer_s <= 0:
            self.ack(ids, at)
            return
        when = at or _utcnow()
        with self._deferred_lock:
            self._acked_waiting.update(ids)
            many = len(self._acked_waiting) >= 2000
        def op(conn: StoreConnection) -> None:
            ack_rows(conn, ids, when)

        self._defer(op)
        if many:
            self.flush_deferred()

    def flush_deferred_if_due(self) -> None:
        """Write the deferred telemetry if the oldest has waited ``telemetry_defer_s`` (when
        no new telemetry comes to trigger it: a housekeeping tick calls this)."""
        with self._deferred_lock:
            due = self._deferred_since is not None and self._monotonic() - self._deferred_since >= self._defer_s
        if due:
            self.flush_deferred()

    def flush_deferred(self) -> None:
        """Write what telemetry waits in memory, in one transaction; returns after commit."""
        with self._deferred_lock:
            ops, self._deferred = self._deferred, []
            notes, self._deferred_kv = self._deferred_kv, {}
            acked, self._acked_waiting = self._acked_waiting, set()
            self._deferred_since = None
        if not ops and not notes:
            return

        def op(conn: StoreConnection) -> None:
            for each in ops:
                each(conn)
            if notes:
                conn.executemany("INSERT OR REPLACE INTO kv(key, value, updated_at) VALUES (?,?,?)",
                                 [(key, text, at) for key, (text, at) in notes.items()])

        try:
            self.write(op)
        except Exception:
            acked.clear()  # not written: those items are simply sent (and acked) again
            raise

    # --- media -----------------------------------------------------------------------

    def add_media(self, media_id: str, content: bytes, content_type: str, *, record_id: str | None,
                  role: str | None, created_at: str, suffix: str = ".bin") -> dict[str, Any]:
        """Write a media file durably, index it and queue it; returns its MediaRef dict.
        Nothing stays behind when it fails: no row, no file."""
        media = MediaDraft(media_id, content, content_type, role=role, created_at=created_at, suffix=suffix)
        self._write_with_files([media], lambda conn, paths: insert_media(conn, media, paths[0], record_id))
        return media.ref()

    def add_record_with_media(self, draft: RecordDraft, media: list[MediaDraft]) -> Saved:
        """Store a record and the media objects it names, linked to it, in one transaction,
        and queue them all; returns after commit. All of it is saved or none of it: a
        record never names missing media, and no media goes out for a record not saved."""
        def op(conn: StoreConnection, paths: list[Path]) -> Saved:
            saved = insert_records(conn, [draft])[0]
            for item, path in zip(media, paths, strict=True):
                insert_media(conn, item, path, draft.id)
            return saved

        return self._write_with_files(media, op)

    def _write_with_files(self, media: list[MediaDraft], op: Callable[[StoreConnection, list[Path]], T]) -> T:
        """The files first (fsynced), then ``op(conn, paths)`` indexes them; if that is not
        committed, the files are removed again."""
        paths = write_files(self.media_dir, media)
        try:
            return self.write(lambda conn: op(conn, paths))
        except Exception:
            remove_files(paths)
            raise

    def media_info(self, media_id: str) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM media WHERE id=?", (media_id,))
        return rows[0] if rows else None

    def media_chunks_done(self, media_id: str) -> set[int]:
        return {r[0] for r in self.query("SELECT chunk FROM media_progress WHERE media_id=?", (media_id,))}

    def mark_media_chunks(self, media_id: str, chunks: Iterable[int]) -> None:
        rows = [(media_id, c) for c in chunks]
        self.write(lambda conn: conn.executemany(
            "INSERT OR IGNORE INTO media_progress(media_id, chunk) VALUES (?,?)", rows))

    def forget_media_chunks(self, media_id: str) -> None:
        """Forget which chunks went out, so the media object is sent whole again."""
        self.write(lambda conn: conn.execute("DELETE FROM media_progress WHERE media_id=?", (media_id,)))

    # --- outbox ----------------------------------------------------------------------

    def outbox_next(self, limit: int, after: dict[Priority, int] | None = None) -> list[OutboxItem]:
        """The next items to publish, highest priority first, oldest first within a class.

        ``after`` holds, per class, the last outbox number already handed out (the
        uplink's cursors), so in-flight items are not returned twice.
        """
        items: list[OutboxItem] = []
        cursor = self._read().cursor()
        cursor.row_factory = None  # plain tuples: this runs for every item the uplink sends
        for priority in Priority:
            if len(items) >= limit:
                break
            rows = cursor.execute(
                "SELECT o.n, o.id, o.priority, o.kind, o.ref, coalesce(o.payload, r.payload),"
                " o.enqueued_at FROM outbox o LEFT JOIN records r ON r.id = o.id AND o.payload IS NULL"
                " WHERE o.priority = ? AND o.n > ? ORDER BY o.n LIMIT ?",
                (int(priority), (after or {}).get(priority, 0), limit - len(items))).fetchall()
            items += [OutboxItem(r[0], r[1], Priority(r[2]), r[3], r[4], r[5], r[6]) for r in rows]
        with self._deferred_lock:
            waiting = set(self._acked_waiting)
        return [item for item in items if item.id not in waiting] if waiting else items

    def ack(self, ids: Iterable[str], at: str | None = None) -> int:
        """The platform has stored these items: drop them from the outbox."""
        return self.submit_ack(ids, at).result()

    def submit_ack(self, ids: Iterable[str], at: str | None = None) -> Pending[int]:
        """Queue an ack without waiting for its commit (the uplink keeps publishing
        meanwhile; an ack lost to a crash only means the item is sent once more)."""
        ids = list(dict.fromkeys(ids))
        when = at or _utcnow()
        return self._writer.submit(lambda conn: ack_rows(conn, ids, when) if ids else 0)

    def requeue(self, since: str, until: str, types: list[str] | None = None, *,
                priority_of: Callable[[str], str]) -> int:
        """Queue stored records again (the platform's ``resend``); already queued ones stay.

        ``priority_of``: record type -> outbox class name (``agent.records.registry.priority_of``:
        the records own that table, the store only stores it).
        """
        def op(conn: sqlite3.Connection) -> int:
            rows = conn.execute(
                "SELECT id, type, recorded_at FROM records WHERE occurred_at >= ? AND occurred_at < ?"
                " ORDER BY seq", (since, until)).fetchall()
            count = 0
            for record_id, record_type, recorded_at in rows:
                if types and record_type not in types:
                    continue
                kind = "alarm" if record_type == "alarm" else "record"
                priority = PRIORITY_BY_NAME[priority_of(record_type)]
                count += conn.execute(
                    "INSERT OR IGNORE INTO outbox(id, priority, kind, ref, payload, enqueued_at)"
                    " VALUES (?,?,?,?,NULL,?)", (record_id, int(priority), kind, record_type, recorded_at)).rowcount
            return count

        return self.write(op)

    def outbox_depth(self) -> list[ClassDepth]:
        """Items waiting for the platform, by class (acked ones whose rows go with the
        deferred write are not waiting)."""
        with self._deferred_lock:
            waiting = json.dumps(sorted(self._acked_waiting))
        rows = {r[0]: (r[1], r[2]) for r in self.query(
            "SELECT priority, count(*), min(enqueued_at) FROM outbox"
            " WHERE id NOT IN (SELECT value FROM json_each(?)) GROUP BY priority", (waiting,))}
        return [ClassDepth(p, *rows.get(int(p), (0, None))) for p in Priority]

    def in_outbox(self, item_id: str) -> bool:
        with self._deferred_lock:
            if item_id in self._acked_waiting:
                return False
        return bool(self.query("SELECT 1 FROM outbox WHERE id=?", (item_id,)))

    # --- commands --------------------------------------------------------------------

    def claim_command(self, command_id: str, name: str, at: str) -> bool:
        """Record a command id as executed; False if it was seen before (replay)."""
        return self.write(lambda conn: conn.execute(
            "INSERT OR IGNORE INTO commands(id, name, received_at) VALUES (?,?,?)", (command_id, name, at)).rowcount == 1)

    def finish_command(self, command_id: str, ok: bool, result: dict[str, Any]) -> None:
        self.write(lambda conn: conn.execute("UPDATE commands SET ok=?, result=? WHERE id=?",
                                             (int(ok), json.dumps(result, ensure_ascii=False), command_id)))

    # --- small persistent state (scheduler jobs, cursors) ------------------------------

    def kv_keys(self, prefix: str) -> list[str]:
        """The kv keys starting with ``prefix``, sorted (deferred ones included)."""
        with self._deferred_lock:
            waiting = [key for key in self._deferred_kv if key.startswith(prefix)]
        return sorted(set(super().kv_keys(prefix)) | set(waiting))

    def kv_get(self, key: str, default: Any = None) -> Any:
        with self._deferred_lock:
            waiting = self._deferred_kv.get(key)
        if waiting is not None:
            return json.loads(waiting[0])
        rows = self.query("SELECT value FROM kv WHERE key=?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def kv_set(self, key: str, value: Any, at: str | None = None) -> None:
        text = json.dumps(value, ensure_ascii=False)
        with self._deferred_lock:
            self._deferred_kv.pop(key, None)  # this write is newer than a deferred one
        self.write(lambda conn: conn.execute(
            "INSERT OR REPLACE INTO kv(key, value, updated_at) VALUES (?,?,?)", (key, text, at or _utcnow())))

    def kv_set_if_absent(self, key: str, value: Any, at: str | None = None) -> bool:
        """Set a key only if it is not there yet; True if this call set it (run-once guards)."""
        text = json.dumps(value, ensure_ascii=False)
        return self.write(lambda conn: conn.execute(
            "INSERT OR IGNORE INTO kv(key, value, updated_at) VALUES (?,?,?)",
            (key, text, at or _utcnow())).rowcount == 1)

    # --- listing ---------------------------------------------------------------------

    def iter_records(self, *, type_: str | None = None, day: str | None = None,
                     verdict: str | None = None, delivered: bool | None = None,
                     limit: int | None = None) -> Iterator[dict[str, Any]]:
        clauses, params = [], []
        for column, value in (("type", type_), ("day", day), ("verdict", verdict)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if delivered is not None:
            clauses.append("delivered_at IS NOT NULL" if delivered else "delivered_at IS NULL")
        sql = "SELECT payload, delivered_at FROM records"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY seq"
        if limit:
            sql += f" LIMIT {int(limit)}"
        for payload, delivered_at in self._read().execute(sql, params):
            record = json.loads(payload)
            record["_delivered_at"] = delivered_at
            yield record

    def disk_usage_bytes(self) -> dict[str, int]:
        db = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        media = sum(p.stat().st_size for p in self.media_dir.rglob("*") if p.is_file())
        return {"database": db, "media": media, "total": db + media}


def _utcnow() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")
