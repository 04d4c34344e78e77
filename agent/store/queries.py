"""Named reads for workflows and the schedule: the SQL they need, kept in the store.

Each method answers one question a workflow asks ("today's records of this type",
"open alarms of this kind", "was the ledger of this day written?"), so callers never
see a table or a column and a schema change stays inside ``agent.store``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import date
from typing import Any, TypedDict


class Duty(TypedDict):
    """A person's fitness for duty on one day, as the day's morning checks decided it."""

    day: str
    staff_id: str
    fit: bool
    reason: str  # the deciding check's findings, or "morning_check" when fit
    record_id: str  # the deciding staff_health_check


class Queries:
    """Mixed into ``Store``; everything goes through its per-thread read connection."""

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError  # Store.query

    # --- records of a day ------------------------------------------------------------

    def records_of_day(self, type_: str, day: str, staff_id: str | None = None) -> list[dict[str, Any]]:
        """``day``'s records of one type (optionally one person's), oldest first."""
        sql = "SELECT payload FROM records WHERE type=? AND day=?"
        params: list[Any] = [type_, day]
        if staff_id is not None:
            sql += " AND staff_id=?"
            params.append(staff_id)
        return [json.loads(r[0]) for r in self.query(sql + " ORDER BY seq", params)]

    def duty(self, day: str, staff_id: str) -> Duty | None:
        """Fitness for duty, derived from the day's ``staff_health_check`` records (the one
        source of truth): unfit once any check that day found the person unfit, decided by
        the latest failing check; else fit, decided by the latest check. None: no check.
        A ``rectification`` restoring fitness that day (a manager's decision after a fever)
        makes the person fit again; checks after it count as usual."""
        checks = self.records_of_day("staff_health_check", day, staff_id)
        restored = self._fitness_restored(day, staff_id)
        if restored is not None:  # a manager's rectification: only later checks count
            checks = [c for c in checks if c["seq"] > restored["seq"]]
            if not checks:
                return Duty(day=day, staff_id=staff_id, fit=True, reason="rectification", record_id=restored["id"])
        if not checks:
            return None
        fit = all(c["data"].get("fit_for_duty", True) for c in checks)
        failed = [c for c in checks if c.get("verdict") == "fail"]
        if fit or not failed:
            deciding = checks[-1]
            reason = "morning_check" if fit else ",".join(deciding.get("findings", []))
        else:
            deciding = failed[-1]
            reason = ",".join(deciding.get("findings", []))
        return Duty(day=day, staff_id=staff_id, fit=fit, reason=reason, record_id=deciding["id"])

    def fitness_restorations(self, day: str) -> list[dict[str, Any]]:
        """The rectifications that put someone back on duty for ``day``, oldest first
        (written that day or later: a manager may decide the next morning)."""
        rows = self.query(
            "SELECT payload FROM records WHERE type = 'rectification'"
            " AND json_extract(payload, '$.data.subject.day') = ?"
            " AND json_extract(payload, '$.data.restores_fitness') = 1 ORDER BY seq", (day,))
        return [json.loads(row[0]) for row in rows]

    def _fitness_restored(self, day: str, staff_id: str) -> dict[str, Any] | None:
        """The latest rectification that restored this person's fitness for ``day``."""
        rows = self.query(
            "SELECT payload FROM records WHERE type = 'rectification'"
            " AND json_extract(payload, '$.data.subject.staff_id') = ?"
            " AND json_extract(payload, '$.data.subject.day') = ?"
            " AND json_extract(payload, '$.data.restores_fitness') = 1 ORDER BY seq DESC LIMIT 1",
            (staff_id, day))
        return json.loads(rows[0][0]) if rows else None

    # --- alarms ----------------------------------------------------------------------

    def open_alarm_subjects(self, kind: str) -> list[dict[str, str]]:
        """The subjects of the raised (not yet cleared) alarms of one kind."""
        rows = self.query("SELECT subject FROM alarms WHERE kind=? AND state='raised'", (kind,))
        return [json.loads(row[0]) for row in rows]

    def rectifications_of(self, raised_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """raised id -> the ``rectification`` records (整改) written on that alarm, oldest first."""
        wanted = list(dict.fromkeys(raised_ids))
        found: dict[str, list[dict[str, Any]]] = {}
        for start in range(0, len(wanted), 500):  # stay under SQLite's variable limit
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.query(
                "SELECT payload FROM records WHERE type = 'rectification'"
                f" AND json_extract(payload, '$.data.alarm_id') IN ({marks}) ORDER BY seq", chunk)
            for row in rows:
                record = json.loads(row[0])
                found.setdefault(record["data"]["alarm_id"], []).append(record)
        return found

    # --- small persistent state ------------------------------------------------------

    def kv_keys(self, prefix: str) -> list[str]:
        """The kv keys starting with ``prefix``, sorted."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self.query("SELECT key FROM kv WHERE key LIKE ? ESCAPE '\\' ORDER BY key", (pattern,))
        return [row[0] for row in rows]

    # --- the records page ------------------------------------------------------------

    def latest_records(self, *, type_: str | None = None, day: str | None = None, verdict: str | None = None,
                       limit: int = 200) -> list[dict[str, Any]]:
        """Records newest first by when they happened (not by when they were stored: a
        camera's violation is judged after the episode), each with ``_delivered_at``."""
        clauses, params = ["1"], []
        for column, value in (("type", type_), ("day", day), ("verdict", verdict)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        rows = self.query(
            f"SELECT payload, delivered_at FROM records WHERE {' AND '.join(clauses)}"
            " ORDER BY occurred_at DESC, seq DESC LIMIT ?", (*params, int(limit)))
        found = []
        for payload, delivered_at in rows:
            record = json.loads(payload)
            record["_delivered_at"] = delivered_at
            found.append(record)
        return found

    def delivered_at(self, record_id: str) -> str | None:
        """When the platform acked this record (None: not yet, or no such record)."""
        rows = self.query("SELECT delivered_at FROM records WHERE id = ?", (record_id,))
        return str(rows[0][0]) if rows and rows[0][0] else None

    def media_of_records(self, record_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """record id -> its media still on disk (id, content_type, role), oldest first; also
        photos that followed their record (``pending``), which the record does not list."""
        wanted = list(dict.fromkeys(record_ids))
        found: dict[str, list[dict[str, Any]]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.query(
                "SELECT id, record_id, content_type, role FROM media"
                f" WHERE evicted = 0 AND record_id IN ({marks}) ORDER BY created_at", chunk)
            for row in rows:
                found.setdefault(row[1], []).append({"id": row[0], "content_type": row[2], "role": row[3]})
        return found

    # --- media -----------------------------------------------------------------------

    def kept_media_bytes(self, roles: Iterable[str]) -> int:
        """Bytes of the media files still on disk (not evicted) with one of these roles."""
        wanted = list(roles)
        marks = ",".join("?" * len(wanted))
        rows = self.query(
            f"SELECT COALESCE(SUM(bytes), 0) FROM media WHERE evicted=0 AND role IN ({marks})", wanted)
        return int(rows[0][0])

    # --- the daily ledger ------------------------------------------------------------

    def ledger_written(self, day: date) -> bool:
        """Is there a ``daily_ledger`` record for ``day``?"""
        return bool(self.query(
            "SELECT 1 FROM records WHERE type = 'daily_ledger' AND json_extract(payload, '$.data.day') = ?"
            " LIMIT 1", (day.isoformat(),)))

    def ledger_ids(self, day: date) -> list[str]:
        """Ids of the ``daily_ledger`` records of ``day``, oldest first."""
        return [row[0] for row in self.query(
            "SELECT id FROM records WHERE type = 'daily_ledger' AND json_extract(payload, '$.data.day') = ?"
            " ORDER BY seq", (day.isoformat(),))]

    def ledgers_since(self, day: date) -> list[tuple[str, date]]:
        """(id, day) of every ``daily_ledger`` record of ``day`` or later."""
        rows = self.query(
            "SELECT id, json_extract(payload, '$.data.day') FROM records"
            " WHERE type = 'daily_ledger' AND json_extract(payload, '$.data.day') >= ?", (day.isoformat(),))
        return [(row[0], date.fromisoformat(row[1])) for row in rows]

    def verdict_counts(self, day: date) -> list[tuple[str, str | None, int]]:
        """(record type, verdict, count) of the records that occurred on ``day``."""
        rows = self.query(
            "SELECT type, verdict, count(*) FROM records WHERE day = ? GROUP BY type, verdict",
            (day.isoformat(),))
        return [(row[0], row[1], int(row[2])) for row in rows]

    def alarms_raised_on(self, day: date) -> int:
        """How many alarms were raised on ``day`` (any kind)."""
        return int(self.query(
            "SELECT count(*) FROM records WHERE day = ? AND type = 'alarm'"
            " AND json_extract(payload, '$.data.state') = 'raised'", (day.isoformat(),))[0][0])

    def diners_on(self, day: date) -> int | None:
        """Diners over the meals served on ``day`` (``meal_service``); None when none was."""
        total = self.query(
            "SELECT sum(json_extract(payload, '$.data.diners')) FROM records"
            " WHERE type = 'meal_service' AND json_extract(payload, '$.data.served_on') = ?",
            (day.isoformat(),))[0][0]
        return None if total is None else int(total)

    # --- stock and traceability (issue 25) ------------------------------------------

    def stock_receipts(self, receipt_id: str | None = None) -> list[dict[str, Any]]:
        """Every receipt (``ingredient_purchase``; or the one with this id) as a batch: id, day
        received, item, batch, supplier, expiry date, grams, quantity, unit; oldest first."""
        one = " AND id = ?" if receipt_id is not None else ""
        rows = self.query(
            "SELECT id, day, json_extract(payload, '$.data.item'), json_extract(payload, '$.data.batch'),"
            " json_extract(payload, '$.data.supplier'), json_extract(payload, '$.data.expiry_date'),"
            " json_extract(payload, '$.data.grams'), json_extract(payload, '$.data.quantity'),"
            " json_extract(payload, '$.data.unit') FROM records WHERE type = 'ingredient_purchase'"
            f"{one} ORDER BY seq", () if receipt_id is None else (receipt_id,))
        keys = ("id", "day", "item", "batch", "supplier", "expiry_date", "grams", "quantity", "unit")
        return [dict(zip(keys, tuple(row), strict=True)) for row in rows]

    def stock_changes(self, after_seq: int) -> list[tuple[int, str, str, str, dict[str, Any]]]:
        """(seq, id, type, day, data) of the receipts, issues and discards stored after ``after_seq``,
        in order: what changed the stock since a reader last looked."""
        rows = self.query(
            "SELECT seq, id, type, day, json_extract(payload, '$.data') FROM records WHERE seq > ?"
            # "+type": by seq, the few records since; never all of these types by the type's index
            " AND +type IN ('ingredient_purchase', 'stock_issue', 'stock_discard') ORDER BY seq", (after_seq,))
        return [(int(row[0]), row[1], row[2], row[3], json.loads(row[4])) for row in rows]

    def receipts_by_batch(self, batch: str) -> list[dict[str, Any]]:
        """The receipts whose batch code is ``batch``, oldest first."""
        rows = self.query("SELECT payload FROM records WHERE type = 'ingredient_purchase'"
                          " AND json_extract(payload, '$.data.batch') = ? ORDER BY seq", (batch,))
        return [json.loads(row[0]) for row in rows]

    def movements_of(self, receipt_id: str) -> list[dict[str, Any]]:
        """The issues and discards of one batch (its receipt's id), oldest first."""
        rows = self.query(
            "SELECT payload FROM records WHERE type = 'stock_issue' AND json_extract(payload, '$.data.receipt_id') = ?"
            " UNION ALL SELECT payload FROM records WHERE type = 'stock_discard'"
            " AND json_extract(payload, '$.data.receipt_id') = ?", (receipt_id, receipt_id))
        return sorted((json.loads(row[0]) for row in rows), key=lambda r: r["seq"])

    def issues_for_meal(self, day: date, meal: str) -> list[dict[str, Any]]:
        """The issues from stock for one meal (its day and name), oldest first."""
        rows = self.query(
            "SELECT payload FROM records WHERE type = 'stock_issue' AND json_extract(payload, '$.data.served_on') = ?"
            " AND json_extract(payload, '$.data.meal') = ? ORDER BY seq", (day.isoformat(), meal))
        return [json.loads(row[0]) for row in rows]

    def records_between(self, low: date, high: date, types: Iterable[str]) -> list[dict[str, Any]]:
        """The records of these types that occurred from ``low`` to ``high`` inclusive, oldest first."""
        wanted = list(types)
        marks = ",".join("?" * len(wanted))
        rows = self.query(f"SELECT payload FROM records WHERE type IN ({marks}) AND day BETWEEN ? AND ? ORDER BY seq",
                          (*wanted, low.isoformat(), high.isoformat()))
        return [json.loads(row[0]) for row in rows]

    def menu_plans(self, day: date) -> dict[str, dict[str, Any]]:
        """meal -> the latest ``menu_plan`` record for ``day`` (planned on any day before it)."""
        rows = self.query("SELECT payload FROM records WHERE type = 'menu_plan'"
                          " AND json_extract(payload, '$.data.day') = ? ORDER BY seq", (day.isoformat(),))
        latest: dict[str, dict[str, Any]] = {}
        for row in rows:
            record = json.loads(row[0])
            latest[record["data"]["meal"]] = record
        return latest

    def scorecard_written(self, period: str, start: date) -> bool:
        """Is there a ``scorecard`` record of this period and first day?"""
        return bool(self.query(
            "SELECT 1 FROM records WHERE type = 'scorecard' AND json_extract(payload, '$.data.period') = ?"
            " AND json_extract(payload, '$.data.start') = ? LIMIT 1", (period, start.isoformat())))

    # --- expiry watch ----------------------------------------------------------------

    def supplier_licences_received(self) -> list[tuple[str, str]]:
        """(supplier, licence expiry date) from every receipt that carried one, oldest first."""
        rows = self.query(
            "SELECT json_extract(payload, '$.data.supplier'),"
            " json_extract(payload, '$.data.supplier_licence_expires_on') FROM records"
            " WHERE type = 'ingredient_purchase'"
            " AND json_extract(payload, '$.data.supplier_licence_expires_on') IS NOT NULL ORDER BY seq")
        return [(row[0], row[1]) for row in rows]
