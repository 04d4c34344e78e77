"""``storage_failed``: the alarm the store cannot hold, kept in memory until it can.

When a commit fails (disk full, I/O error) nothing of the write was saved. The alarm
about it cannot be committed either, so the Recorder notes the failure here at once
(logged, and readable as ``pending`` by status pages) and commits it as soon as the store
works again: before the next write anyone makes, or within ``StorageWatch.every_s`` when
nobody writes. It is committed as a raise (``occurred_at`` = the first failure; details:
failed writes, first and last failure, the error) followed by its clear (the store
works again), so the platform learns when storage broke and when it came back, in
order, through the ordinary outbox.

Chosen over publishing from memory: the alarm then keeps the store's guarantees
(``seq``, acks, resends) and the uplink stays a reader of the outbox only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from agent.core.timeutil import rfc3339
from agent.records.alarm import AlarmData
from agent.store import RecordDraft, Store, StoreWriteError

log = logging.getLogger("agent.storage_alarm")

ALARM = "storage_failed"
SUBJECT = {"device_id": "store"}
Draft = Callable[..., RecordDraft]  # Recorder.draft: (data, occurred_at=...) -> envelope


@dataclass(frozen=True, slots=True)
class Failure:
    first_at: datetime
    last_at: datetime
    failed_writes: int
    error: str


class StorageFailures:
    """Write failures since the store last worked; ``flush`` commits them as an alarm."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._failure: Failure | None = None
        self._raised_saved = False  # the raise is committed, its clear not yet
        self._last_error: BaseException | None = None  # a failure re-raised upwards is noted once

    @property
    def pending(self) -> Failure | None:
        with self._lock:
            return self._failure

    def note(self, at: datetime, exc: BaseException) -> None:
        with self._lock:
            if exc is self._last_error:
                return
            self._last_error = exc
            old = self._failure
            failure = Failure(old.first_at if old else at, at, (old.failed_writes if old else 0) + 1,
                              old.error if old else str(exc))
            self._failure = failure
        if old is None:  # at once, even though it cannot be stored yet
            log.error("alarm raised kind=%s subject=device_id=store unsaved=held_in_memory error=%s", ALARM, exc)
        else:
            log.warning("store write failed again failed_writes=%d", failure.failed_writes)

    def flush(self, store: Store, draft: Draft, key: str) -> bool:
        """Commit the held alarm (raise, then clear) under ``key``, envelopes from ``draft``
        (the Recorder's); False while the store still fails."""
        failure = self.pending
        if failure is None:
            return True
        if not self._flushing.acquire(blocking=False):
            return False  # another thread is at it
        try:
            return self._commit(store, draft, key, failure)
        finally:
            self._flushing.release()

    def _commit(self, store: Store, draft: Draft, key: str, failure: Failure) -> bool:
        details = {"failed_writes": failure.failed_writes, "first_failure_at": rfc3339(failure.first_at),
                   "last_failure_at": rfc3339(failure.last_at), "error": failure.error}
        try:
            if not self._raised_saved:
                raised = AlarmData(kind=ALARM, state="raised", severity="critical", subject=SUBJECT,
                                   message="存储失败，记录未保存 / storage failed: records were not saved",
                                   details=details)
                store.raise_alarm(key, draft(raised, occurred_at=failure.first_at))
                self._raised_saved = True
            cleared = AlarmData(kind=ALARM, state="cleared", severity="info", subject=SUBJECT,
                                message="存储已恢复 / storage works again", details=details)
            store.clear_alarm(key, draft(cleared))
        except StoreWriteError as exc:
            log.warning("storage_failed alarm still held in memory: %s", exc)
            return False
        with self._lock:
            if self._failure is not None and self._failure.last_at <= failure.last_at:
                self._failure = None
            self._raised_saved = False
        log.info("alarm saved kind=%s failed_writes=%d (raised and cleared)", ALARM, failure.failed_writes)
        return True


class StorageWatch:
    """Commits a held ``storage_failed`` alarm when nobody writes (a supervised component).

    ``flush`` is ``Recorder.flush_storage_failure``.
    """

    name = "storage-watch"

    def __init__(self, flush: Callable[[], bool], every_s: float = 5.0) -> None:
        self.flush = flush
        self.every_s = every_s

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.every_s):
            self.flush()
