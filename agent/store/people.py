"""The people and things of the school's basic data, as the store keeps them: the roster
and the stations' badge index, every basic-data entity with its version, and the console's
accounts. Mixed into ``Store``; the writes run in its writer thread like any other."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from agent.store.basic_rows import BasicChange, apply_changes, entity_row
from agent.store.media_rows import MediaDraft, insert_media
from agent.store.record_rows import RecordDraft, Saved, insert_records
from agent.store.writer import StoreConnection

_USER_PREFIX = "console_user:"
T = TypeVar("T")


class People:
    """Mixed into ``Store``: these are its own methods (write, reads, kv), declared here."""

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError  # Store.query

    def write(self, op: Callable[[StoreConnection], T]) -> T:
        raise NotImplementedError  # Store.write

    def _write_with_files(self, media: list[MediaDraft], op: Callable[[StoreConnection, list[Path]], T]) -> T:
        raise NotImplementedError  # Store._write_with_files

    def kv_get(self, key: str, default: Any = None) -> Any:
        raise NotImplementedError  # Store.kv_get

    def kv_set(self, key: str, value: Any, at: str | None = None) -> None:
        raise NotImplementedError  # Store.kv_set

    # --- roster ----------------------------------------------------------------------

    def replace_roster(self, staff: list[dict[str, Any]], at: str, *, origin: str = "config",
                       by: str = "config") -> int:
        """The roster as the config's seed or the platform's ``sync_roster`` gives it: each
        listed person added or replaced (their basic data keeps what the roster does not
        carry), everyone else marked as left (kept, never deleted), in one transaction."""
        listed = {person["staff_id"] for person in staff}
        changes = []
        for person in staff:
            old = self.basic_data("staff", person["staff_id"])
            value = {**(old["value"] if old else {}), "staff_id": person["staff_id"], "name": person.get("name"),
                     "post": person.get("role") or "cook", "badges": list(person.get("badges", [])),
                     "health_cert_valid_until": person.get("health_cert_expires_on"),
                     "active": True, "on_duty": bool(person.get("on_duty", True))}
            changes.append(staff_change(value, by, origin, at))
        for old in self.basic_data_of("staff"):
            if old["id"] not in listed and old["value"].get("active", True):
                changes.append(staff_change({**old["value"], "active": False, "left_on": at[:10]}, by, origin, at))
        self.apply_basic_data(changes)
        return len(staff)

    def apply_basic_data(self, changes: list[BasicChange], draft: RecordDraft | None = None,
                         media: list[MediaDraft] | None = None) -> tuple[Saved | None, dict[tuple[str, str], int]]:
        """Basic-data changes, the record that tells the platform and its photos, in one
        transaction: all of it or none (``agent.store.basic_rows``: BasicDataConflict,
        BadgeTaken). Returns the record as saved and each entity's new version."""
        record_id = draft.id if draft is not None else None
        stamped = [BasicChange(c.entity, c.entity_id, c.value, c.by, c.origin, c.at, c.expected_version,
                               record_id, c.staff_index) for c in changes]

        def op(conn: StoreConnection, paths: list[Path]) -> tuple[Saved | None, dict[tuple[str, str], int]]:
            versions = apply_changes(conn, stamped)
            saved = insert_records(conn, [draft])[0] if draft is not None else None
            for item, path in zip(media or [], paths, strict=True):
                insert_media(conn, item, path, record_id)
            return saved, versions

        return self._write_with_files(media or [], op)

    def basic_data(self, entity: str, entity_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM basic_data WHERE entity=? AND id=?", (entity, entity_id))
        return entity_row(rows[0]) if rows else None

    def basic_data_of(self, entity: str) -> list[dict[str, Any]]:
        return [entity_row(r) for r in self.query("SELECT * FROM basic_data WHERE entity=? ORDER BY id", (entity,))]

    def staff_by_badge(self, badge: str) -> dict[str, Any] | None:
        rows = self.query("SELECT s.* FROM badges b JOIN staff s ON s.staff_id=b.staff_id WHERE b.badge=?",
                          (badge,))
        return _staff_row(rows[0]) if rows else None

    def staff(self, staff_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM staff WHERE staff_id=?", (staff_id,))
        return _staff_row(rows[0]) if rows else None

    def roster(self) -> list[dict[str, Any]]:
        return [_staff_row(r) for r in self.query("SELECT * FROM staff ORDER BY staff_id")]

    # --- console accounts ---------------------------------------------------------------

    def save_console_user(self, user: dict[str, Any], at: str | None = None) -> None:
        """Create or replace a console account (name, role, password hash; never a password)."""
        self.kv_set(_USER_PREFIX + user["name"], user, at)

    def console_user(self, name: str) -> dict[str, Any] | None:
        user = self.kv_get(_USER_PREFIX + name)
        return user if isinstance(user, dict) else None

    def console_users(self) -> list[dict[str, Any]]:
        rows = self.query("SELECT value FROM kv WHERE key GLOB ? ORDER BY key", (_USER_PREFIX + "*",))
        return [json.loads(r[0]) for r in rows]

    def delete_console_user(self, name: str) -> bool:
        return bool(self.write(lambda conn: conn.execute(
            "DELETE FROM kv WHERE key=?", (_USER_PREFIX + name,)).rowcount))


def _staff_row(row: sqlite3.Row) -> dict[str, Any]:
    person = dict(row)
    person["badges"] = json.loads(person["badges"] or "[]")
    person["on_duty"] = bool(person["on_duty"])
    return person


def staff_change(value: dict[str, Any], by: str, origin: str, at: str,
                 expected_version: int | None = None) -> BasicChange:
    """A person's basic data and the stations' index of them (name, post, badges, certificate date)."""
    index = {"name": value.get("name"), "role": value.get("post") or "cook", "badges": value.get("badges") or [],
             "health_cert_expires_on": value.get("health_cert_valid_until"),
             "active": bool(value.get("active", True)), "on_duty": bool(value.get("on_duty", True))}
    return BasicChange("staff", str(value["staff_id"]), value, by, origin, at, expected_version, None, index)
