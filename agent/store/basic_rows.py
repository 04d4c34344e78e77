"""The school's basic data as rows: the canteen's profile, staff, suppliers and
contractors, fixed assets (``basic_data``), and the staff's index the stations read
(``staff``, ``badges``), changed together in one transaction with the record that tells
the platform.

Each entity has a ``version`` that every change raises by one. A change names the
version it was made on (the console's form, the platform's ``sync_basic_data`` item);
when the store holds a newer one the change is refused (``BasicDataConflict``: who
changed it, when, from where) and nothing is written: an edit never overwrites one it
did not see. A badge held by another active person is refused the same way
(``BadgeTaken``). Staff who leave are kept, marked inactive; nothing here deletes a row.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

ENTITIES = ("canteen", "staff", "supplier", "asset", "document")


class BasicDataConflict(Exception):
    """The entity changed since the change's form was opened (or the platform last saw it)."""

    def __init__(self, entity: str, entity_id: str, expected: int | None, found: dict[str, Any]) -> None:
        super().__init__(f"{entity} {entity_id} is at version {found.get('version')}, the change was made "
                         f"on version {expected} (changed by {found.get('changed_by')} from "
                         f"{found.get('changed_from')} at {found.get('changed_at')})")
        self.entity, self.entity_id, self.expected, self.found = entity, entity_id, expected, found


class BadgeTaken(Exception):
    """A badge already held by another active person."""

    def __init__(self, badge: str, holder: str) -> None:
        super().__init__(f"a badge is held by {holder}")  # no card number in a log line
        self.badge, self.holder = badge, holder


@dataclass(frozen=True)
class BasicChange:
    """One entity as it is after a change, and the version the change was made on."""

    entity: str  # canteen | staff | supplier | asset | document
    entity_id: str
    value: dict[str, Any]  # the whole entity, JSON-ready
    by: str  # the console account, "platform" or "config"
    origin: str  # console | platform | config
    at: str
    expected_version: int | None = None  # None: not checked (the config's seed, a platform roster)
    record_id: str | None = None
    staff_index: dict[str, Any] | None = field(default=None)  # staff: name, role, badges, cert date, active


def apply_changes(conn: sqlite3.Connection, changes: list[BasicChange]) -> dict[tuple[str, str], int]:
    """Apply ``changes`` inside the writer's transaction; the new version of each.
    BasicDataConflict / BadgeTaken (the op rolls back, nothing written)."""
    versions: dict[tuple[str, str], int] = {}
    for change in changes:
        row = conn.execute("SELECT version, changed_by, changed_from, changed_at FROM basic_data"
                           " WHERE entity=? AND id=?", (change.entity, change.entity_id)).fetchone()
        current = int(row[0]) if row else 0
        if change.expected_version is not None and change.expected_version != current:
            found = {"version": current, "changed_by": row[1] if row else None,
                     "changed_from": row[2] if row else None, "changed_at": row[3] if row else None}
            raise BasicDataConflict(change.entity, change.entity_id, change.expected_version, found)
        version = current + 1
        conn.execute(
            "INSERT OR REPLACE INTO basic_data(entity, id, version, value, changed_at, changed_by, changed_from,"
            " record_id) VALUES (?,?,?,?,?,?,?,?)",
            (change.entity, change.entity_id, version, json.dumps(change.value, ensure_ascii=False), change.at,
             change.by, change.origin, change.record_id))
        if change.staff_index is not None:
            _index_staff(conn, change.entity_id, change.staff_index, change.at)
        versions[(change.entity, change.entity_id)] = version
    return versions


def _index_staff(conn: sqlite3.Connection, staff_id: str, person: dict[str, Any], at: str) -> None:
    """The stations' and the schedule's view of one person: only an active person's badges open a station."""
    active = bool(person.get("active", True))
    badges = [str(b) for b in person.get("badges") or []]
    if active:
        for badge in badges:
            holder = conn.execute("SELECT staff_id FROM badges WHERE badge=?", (badge,)).fetchone()
            if holder is not None and holder[0] != staff_id:
                raise BadgeTaken(badge, holder[0])
    conn.execute("DELETE FROM badges WHERE staff_id=?", (staff_id,))
    conn.execute(
        "INSERT OR REPLACE INTO staff(staff_id, name, role, badges, health_cert_expires_on, on_duty, updated_at)"
        " VALUES (?,?,?,?,?,?,?)",
        (staff_id, person.get("name"), person.get("role"), json.dumps(badges if active else []),
         person.get("health_cert_expires_on") if active else None,  # no warnings for someone who left
         int(active and person.get("on_duty", True)), at))
    if active:
        conn.executemany("INSERT INTO badges(badge, staff_id) VALUES (?,?)", [(b, staff_id) for b in badges])


def entity_row(row: sqlite3.Row | tuple[Any, ...]) -> dict[str, Any]:
    entity, entity_id, version, value, changed_at, changed_by, changed_from, record_id = tuple(row)
    return {"entity": entity, "id": entity_id, "version": int(version), "value": json.loads(value),
            "changed_at": changed_at, "changed_by": changed_by, "changed_from": changed_from, "record_id": record_id}
