"""Group commit: one thread owns the write connection and batches concurrent adds.

Producers submit small write operations and block on a future. The writer takes
every operation waiting (up to a limit), runs each inside its own savepoint of one
transaction, commits once, and only then resolves the futures. One fsync thus covers
many records, and "saved" always means "committed to disk".

Durability: the database runs in WAL mode with ``synchronous=FULL`` by default, so a
commit has reached the disk (WAL fsynced) before an add returns: the record survives
a power cut, not only a process crash. ``synchronous=NORMAL`` ("process_crash") may
lose the last commits on power loss but never corrupts the database.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

log = logging.getLogger("agent.store")

Durability = Literal["power_cut", "process_crash"]
WriteOp = Callable[[sqlite3.Connection], Any]


class StoreClosed(RuntimeError):
    """The store is shut down; nothing new is accepted."""


class StoreWriteError(RuntimeError):
    """A write could not be committed (disk full, I/O error); nothing of it was saved."""


@dataclass
class _Job:
    op: WriteOp
    future: Future = field(default_factory=Future)


class StoreConnection(sqlite3.Connection):
    """A connection that hands out ``seq`` numbers within the writer's transaction.

    The counter lives in ``meta`` and is written back once per batch (not once per
    record); an op or batch that rolls back gives its numbers back, so ``seq`` has
    no gaps and never repeats.
    """

    _seq: int | None = None
    _seq_dirty = False

    def next_seq(self) -> int:
        if self._seq is None:
            self._seq = int(self.execute("SELECT value FROM meta WHERE key='seq'").fetchone()[0])
        self._seq += 1
        self._seq_dirty = True
        return self._seq

    def seq_mark(self) -> tuple[int | None, bool]:
        return self._seq, self._seq_dirty

    def seq_restore(self, mark: tuple[int | None, bool]) -> None:
        self._seq, self._seq_dirty = mark

    def seq_flush(self) -> None:
        if self._seq_dirty:
            self.execute("UPDATE meta SET value=? WHERE key='seq'", (str(self._seq),))
            self._seq_dirty = False

    def seq_forget(self) -> None:
        self._seq, self._seq_dirty = None, False


def open_connection(path: str, durability: Durability, *, readonly: bool = False) -> StoreConnection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves (sqlite3 would not batch).
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None,
                           factory=StoreConnection)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if durability == 'power_cut' else 'NORMAL'}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    return conn


class GroupCommitWriter:
    """The single writer thread. ``submit`` is safe from any thread."""

    def __init__(self, conn: sqlite3.Connection, *, max_batch: int = 512) -> None:
        self._conn: StoreConnection = conn  # type: ignore[assignment]
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self.commits = 0
        self.ops = 0
        self._thread.start()

    def submit(self, op: WriteOp) -> Future:
        if self._closed.is_set():
            raise StoreClosed("store is closed")
        job = _Job(op)
        self._queue.put(job)
        return job.future

    def close(self, timeout: float = 30.0) -> None:
        """Finish what was submitted, then stop."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._queue.put(None)
        self._thread.join(timeout)

    def _take_batch(self) -> tuple[list[_Job], bool]:
        first = self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        stop = False
        while len(batch) < self._max_batch:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                stop = True
                break
            batch.append(job)
        return batch, stop

    def _run(self) -> None:
        stop = False
        while not stop:
            batch, stop = self._take_batch()
            if not batch:
                continue
            try:
                self._commit_batch(batch)
            except Exception as exc:  # a bug must not leave producers waiting forever
                log.exception("store writer failed on a batch")
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(StoreWriteError(f"not saved: {exc!r}"))

    def _commit_batch(self, batch: list[_Job]) -> None:
        try:
            try:
                results = self._run_batch(batch, isolate=False)
            except _OpFailed:
                # Rare slow path: redo the batch with each op in its own savepoint,
                # so one bad write is refused alone and the others still commit.
                results = self._run_batch(batch, isolate=True)
        except sqlite3.Error as exc:
            log.error("store commit failed: %s (%d writes refused)", exc, len(batch))
            error = StoreWriteError(f"not saved: {exc}")
            for job in batch:
                job.future.set_exception(error)
            return
        self.commits += 1
        self.ops += len(batch)
        for job, (ok, value) in zip(batch, results, strict=True):
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)

    def _run_batch(self, batch: list[_Job], *, isolate: bool) -> list[tuple[bool, Any]]:
        """One transaction for the whole batch; raises _OpFailed on the fast path."""
        conn = self._conn
        results: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            if isolate:
                results = [self._run_isolated(conn, job.op) for job in batch]
            else:
                try:
                    results = [(True, value) for value in self._run_fast(conn, batch)]
                except Exception as exc:
                    if isinstance(exc, sqlite3.OperationalError) and _is_fatal(exc):
                        raise
                    raise _OpFailed from exc
            conn.seq_flush()
            conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return results

    @staticmethod
    def _run_fast(conn: StoreConnection, batch: list[_Job]) -> list[Any]:
        """Run the batch's ops in order; consecutive ops that share a ``run_many``
        (record inserts) go to the database together, as one executemany."""
        values: list[Any] = []
        i = 0
        while i < len(batch):
            many = getattr(batch[i].op, "run_many", None)
            if many is None:
                values.append(batch[i].op(conn))
                i += 1
                continue
            j = i + 1
            while j < len(batch) and getattr(batch[j].op, "run_many", None) == many:
                j += 1
            values += many(conn, [job.op for job in batch[i:j]])
            i = j
        return values

    @staticmethod
    def _run_isolated(conn: StoreConnection, op: WriteOp) -> tuple[bool, Any]:
        """Run one op in a savepoint, so a bad one does not sink the batch."""
        mark = conn.seq_mark()
        conn.execute("SAVEPOINT op")
        try:
            value = op(conn)
        except Exception as exc:  # noqa: BLE001 - handed back to the producer
            conn.execute("ROLLBACK TO SAVEPOINT op")
            conn.execute("RELEASE SAVEPOINT op")
            conn.seq_restore(mark)
            if isinstance(exc, sqlite3.OperationalError) and _is_fatal(exc):
                raise
            log.warning("store write refused: %r", exc)
            return False, exc
        conn.execute("RELEASE SAVEPOINT op")
        return True, value

    def _rollback(self) -> None:
        self._conn.seq_forget()
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            log.error("store rollback failed: %s", exc)


class _OpFailed(Exception):
    """An op raised on the fast path; the batch is redone op by op."""


def _is_fatal(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "disk" in text or "full" in text or "i/o" in text
