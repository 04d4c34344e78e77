"""Retention and the disk budget.

Retention deletes what the platform already holds and the rules no longer ask us to
keep. Under disk pressure we give up, in order: media files (delivered first, then
the oldest undelivered), old telemetry, then delivered records past their retention.
An undelivered record or alarm is never evicted. The caller raises an alarm when
the budget bites.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from agent.store.store import Store

log = logging.getLogger("agent.store.budget")


@dataclass
class BudgetReport:
    budget_bytes: int
    used_before: int
    used_after: int
    media_evicted: int = 0
    undelivered_media_evicted: list[str] = field(default_factory=list)
    telemetry_deleted: int = 0
    records_deleted: int = 0

    @property
    def over_budget(self) -> bool:
        return self.used_after > self.budget_bytes

    @property
    def pressure(self) -> bool:
        """The budget forced eviction beyond ordinary retention."""
        return self.used_before > self.budget_bytes


def apply_retention(store: Store, now: datetime, retention_days: int, telemetry_keep_days: int) -> int:
    """Delete delivered records past retention and telemetry past its keep time."""
    cutoff = (now - timedelta(days=retention_days)).isoformat()
    today = now.date().isoformat()
    tele_cutoff = (now - timedelta(days=telemetry_keep_days)).isoformat()

    def op(conn: sqlite3.Connection) -> int:
        deleted = conn.execute(
            "DELETE FROM records WHERE delivered_at IS NOT NULL AND occurred_at < ?"
            " AND (keep_until IS NULL OR keep_until < ?)", (cutoff, today)).rowcount
        conn.execute("DELETE FROM telemetry WHERE t < ?", (tele_cutoff,))
        return deleted

    return store.write(op)


def enforce_budget(store: Store, budget_bytes: int, now: datetime, retention_days: int) -> BudgetReport:
    """Evict until under budget, in the order above; never undelivered records."""
    used = store.disk_usage_bytes()["total"]
    report = BudgetReport(budget_bytes, used, used)
    if used <= budget_bytes:
        return report
    log.warning("store over disk budget: used=%d budget=%d", used, budget_bytes)
    _evict_media(store, report, delivered=True)
    if _over(store, report):
        _evict_media(store, report, delivered=False)
    if _over(store, report):
        report.telemetry_deleted = store.write(
            lambda conn: conn.execute("DELETE FROM telemetry").rowcount)
        _checkpoint(store)
    if _over(store, report):
        cutoff = (now - timedelta(days=retention_days)).isoformat()
        report.records_deleted = store.write(lambda conn: conn.execute(
            "DELETE FROM records WHERE delivered_at IS NOT NULL AND occurred_at < ?", (cutoff,)).rowcount)
        _checkpoint(store)
    _over(store, report)
    return report


def _over(store: Store, report: BudgetReport) -> bool:
    report.used_after = store.disk_usage_bytes()["total"]
    return report.used_after > report.budget_bytes


def _evict_media(store: Store, report: BudgetReport, *, delivered: bool) -> None:
    condition = "delivered_at IS NOT NULL" if delivered else "delivered_at IS NULL"
    rows = store.query(f"SELECT id, path, bytes FROM media WHERE evicted=0 AND {condition} ORDER BY created_at")
    excess = report.used_after - report.budget_bytes
    for row in rows:
        if excess <= 0:
            break
        try:
            os.remove(row["path"])
        except FileNotFoundError:
            pass
        store.write(partial(_forget_media, media_id=row["id"]))
        excess -= row["bytes"]
        report.media_evicted += 1
        if not delivered:
            report.undelivered_media_evicted.append(row["id"])
            log.warning("evicted undelivered media %s under disk pressure", row["id"])


def _forget_media(conn: sqlite3.Connection, media_id: str) -> None:
    conn.execute("UPDATE media SET evicted=1 WHERE id=?", (media_id,))
    conn.execute("DELETE FROM outbox WHERE id=?", (media_id,))


def _checkpoint(store: Store) -> None:
    """Give freed pages back to the file system (WAL checkpoint, incremental vacuum)."""
    store.write(lambda conn: conn.execute("PRAGMA incremental_vacuum").fetchall())
    conn = sqlite3.connect(str(store.path), timeout=30)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
