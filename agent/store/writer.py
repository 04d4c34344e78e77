"""Group commit: one thread owns the write connection and batches concurrent adds.

Producers submit small write operations and wait on a ``Pending``. The writer takes
every operation waiting, runs them in one transaction (a bad one is retried alone in
a savepoint, so it is refused without sinking the others), commits once, and only
then tells the producers. One fsync thus covers many records, and "saved" always
means "committed to disk".

Durability: the database runs in WAL mode with ``synchronous=FULL`` by default, so a
commit has reached the disk (WAL fsynced) before an add returns: the record survives
a power cut, not only a process crash. ``synchronous=NORMAL`` ("process_crash") may
lose the last commits on power loss but never corrupts the database.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar

log = logging.getLogger("agent.store")

Durability = Literal["power_cut", "process_crash"]
PAGE_SIZE = 2048
T = TypeVar("T")
WriteOp = Callable[["StoreConnection"], Any]  # runs inside the writer's open transaction
RunMany = Callable[["StoreConnection", list[Any]], list[Any]]  # many ops of one kind, in order


class StoreClosed(RuntimeError):
    """The store is shut down; nothing new is accepted."""


class StoreWriteError(RuntimeError):
    """A write could not be committed (disk full, I/O error); nothing of it was saved."""


class Pending(Generic[T]):
    """The outcome of one write op, known once the transaction holding it has committed.

    A light stand-in for ``concurrent.futures.Future`` (``done()``, ``result(timeout)``):
    the writer wakes every producer of a batch with one shared event instead of one
    condition per op, which is a large share of the per-record cost at high rates.

    ``many``: for ops the writer runs together (record inserts), the function taking the
    connection and the list of consecutive ``op``s of that kind; ``op`` is then its argument
    (a record draft), so a record costs one object here, not an op object and a Pending.
    """

    __slots__ = ("_committed", "_error", "_value", "many", "op")

    def __init__(self, op: Any, committed: threading.Event, many: RunMany | None = None) -> None:
        self.op = op
        self.many = many
        self._committed = committed
        self._value: T | None = None
        self._error: BaseException | None = None

    def done(self) -> bool:
        return self._committed.is_set()

    def result(self, timeout: float | None = None) -> T:
        """The op's return value once committed; its exception if it was refused."""
        # is_set() first: a producer with many adds outstanding mostly finds them committed,
        # and Event.wait() would take the event's lock each time.
        if not self._committed.is_set() and not self._committed.wait(timeout):
            raise TimeoutError("store write not committed yet")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # set (to a T) before _committed

    def exception(self, timeout: float | None = None) -> BaseException | None:
        if not self._committed.wait(timeout):
            raise TimeoutError("store write not committed yet")
        return self._error

    def run(self, conn: StoreConnection) -> Any:
        """The op alone (the writer's slow path, one savepoint per op)."""
        if self.many is None:
            return self.op(conn)
        return self.many(conn, [self.op])[0]


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

    def take_seqs(self, count: int) -> int:
        """Reserve ``count`` consecutive numbers; returns the first."""
        first = self.next_seq()
        self._seq += count - 1  # type: ignore[operator]
        return first

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
    if not readonly:
        # A new database gets 2 KiB pages: every commit rewrites whole pages into the WAL
        # (and a checkpoint again into the file), and the agent's commits touch a few rows
        # each; an SD card is worn by the bytes (bench sdcard: 29x with 4 KiB, 19.9x with
        # 2 KiB; 1 KiB saves a little more but slows the outbox drain's lookups by id).
        # No effect on an existing database.
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if durability == 'power_cut' else 'NORMAL'}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    return conn


class GroupCommitWriter:
    """The single writer thread. ``submit`` is safe from any thread.

    Producers append to one list under a lock; the writer swaps the whole list out in
    one step, together with the event that will announce its commit. Whatever arrives
    meanwhile lands in the next list with the next event, so an op is never announced
    before the transaction that holds it has committed.
    """

    def __init__(self, conn: sqlite3.Connection, *, max_batch: int = 512, checkpoint_pages: int = 1000) -> None:
        """``checkpoint_pages``: the writer copies the WAL back into the database (a PASSIVE
        checkpoint) once about this many pages were appended since the last one, as SQLite's
        own auto-checkpoint would; doing it here counts what checkpoints write
        (``checkpoint_bytes``, from the thread's I/O counters on Linux)."""
        self._conn: StoreConnection = conn  # type: ignore[assignment]
        self._max_batch = max_batch
        self._checkpoint_pages = checkpoint_pages
        self._frame_bytes = int(conn.execute("PRAGMA page_size").fetchone()[0]) + 24
        self._wal_bytes = 0  # appended since the last checkpoint
        self.checkpoints = 0
        self.checkpoint_bytes = 0
        self._io_path = "/proc/thread-self/io"
        self._io_fd: int | None = None
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._jobs: list[Pending[Any]] = []
        self._committed = threading.Event()  # set when the current ``_jobs`` are committed
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self.commits = 0
        self.ops = 0
        self.batch_sizes: Counter[int] = Counter()  # commits by ops in them
        self._thread.start()

    @property
    def native_id(self) -> int | None:
        """The writer thread's id in the OS (for its CPU time in /proc)."""
        return self._thread.native_id

    def submit(self, op: Callable[[StoreConnection], T]) -> Pending[T]:
        return self.submit_many(op, None)

    def submit_many(self, arg: Any, many: RunMany | None) -> Pending[Any]:
        """Queue ``arg`` for ``many`` (run with its consecutive neighbours of the same
        ``many``, as one list); with ``many=None``, ``arg`` is an op run alone."""
        with self._lock:
            if self._closed:
                raise StoreClosed("store is closed")
            job: Pending[Any] = Pending(arg, self._committed, many)
            self._jobs.append(job)
            if len(self._jobs) == 1:
                self._work.notify()
        return job

    def close(self, timeout: float = 30.0) -> None:
        """Finish what was submitted, then stop."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._work.notify()
        self._thread.join(timeout)

    def _take_jobs(self) -> tuple[list[Pending[Any]], threading.Event, bool]:
        with self._lock:
            while not self._jobs and not self._closed:
                self._work.wait()
            jobs, self._jobs = self._jobs, []
            committed, self._committed = self._committed, threading.Event()
            return jobs, committed, self._closed

    def _written(self) -> int | None:
        """Bytes this (the writer) thread has sent to the block layer (Linux), else None.
        The counters file is opened once, by this thread, and re-read in place."""
        try:
            if self._io_fd is None:
                self._io_fd = os.open(self._io_path, os.O_RDONLY)
            text = os.pread(self._io_fd, 512, 0)
        except OSError:
            return None
        return int(text.split(b"write_bytes:")[1].split()[0])

    def _maybe_checkpoint(self, appended: int) -> None:
        self._wal_bytes += appended
        if self._wal_bytes < self._checkpoint_pages * self._frame_bytes:
            return
        before = self._written()
        try:
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:
            log.warning("store checkpoint failed: %s", exc)
            return
        after = self._written()
        self.checkpoints += 1
        if before is not None and after is not None:
            self.checkpoint_bytes += after - before
        self._wal_bytes = 0

    def _run(self) -> None:
        if self._written() is not None:  # we can see what commits append: checkpoint here
            self._conn.execute("PRAGMA wal_autocheckpoint=0")
        else:
            self._checkpoint_pages = 0  # SQLite's own auto-checkpoint stays in charge
        stop = False
        while not stop:
            jobs, committed, stop = self._take_jobs()
            # Batches of at most max_batch ops each commit on their own; the producers
            # hear of all of them together, after the last commit.
            appended = 0
            for start in range(0, len(jobs), self._max_batch):
                batch = jobs[start:start + self._max_batch]
                before = self._written() if self._checkpoint_pages else None
                try:
                    self._commit_batch(batch)
                    if before is not None:
                        appended += (self._written() or before) - before
                except Exception as exc:  # a bug must not leave producers waiting forever
                    log.exception("store writer failed on a batch")
                    for job in batch:
                        if job._error is None:
                            job._error = StoreWriteError(f"not saved: {exc!r}")
            committed.set()
            if appended:  # after telling the producers: they need not wait for it
                self._maybe_checkpoint(appended)
        if self._io_fd is not None:
            os.close(self._io_fd)
            self._io_fd = None

    def _commit_batch(self, batch: list[Pending[Any]]) -> None:
        try:
            try:
                values = self._run_batch(batch, isolate=False)
                refused: list[BaseException | None] = [None] * len(batch)
            except _OpFailed:
                # Rare slow path: redo the batch with each op in its own savepoint,
                # so one bad write is refused alone and the others still commit.
                outcomes = self._run_batch(batch, isolate=True)
                values = [value if ok else None for ok, value in outcomes]
                refused = [None if ok else value for ok, value in outcomes]
        except sqlite3.Error as exc:
            log.error("store commit failed: %s (%d writes refused)", exc, len(batch))
            failed = StoreWriteError(f"not saved: {exc}")
            for job in batch:
                job._error = failed
            return
        self.commits += 1
        self.ops += len(batch)
        self.batch_sizes[len(batch)] += 1
        for job, value, error in zip(batch, values, refused, strict=True):
            job._value = value
            job._error = error

    def _run_batch(self, batch: list[Pending[Any]], *, isolate: bool) -> list[Any]:
        """One transaction for the whole batch: the ops' values (fast path; raises _OpFailed
        when an op raises) or, isolated, an (ok, value or exception) pair per op."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            if isolate:
                results = [self._run_isolated(conn, job) for job in batch]
            else:
                try:
                    results = self._run_fast(conn, batch)
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
    def _run_fast(conn: StoreConnection, batch: list[Pending[Any]]) -> list[Any]:
        """Run the batch's ops in order; consecutive ops that share a ``many``
        (record inserts) go to the database together, as one list."""
        values: list[Any] = []
        i, end = 0, len(batch)
        while i < end:
            many = batch[i].many
            if many is None:
                values.append(batch[i].op(conn))
                i += 1
                continue
            j = i + 1
            while j < end and batch[j].many is many:
                j += 1
            values += many(conn, [job.op for job in batch[i:j]])
            i = j
        return values

    @staticmethod
    def _run_isolated(conn: StoreConnection, job: Pending[Any]) -> tuple[bool, Any]:
        """Run one op in a savepoint, so a bad one does not sink the batch."""
        mark = conn.seq_mark()
        conn.execute("SAVEPOINT op")
        try:
            value = job.run(conn)
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
