"""What the platform does with each kind of message, inside one database transaction.

Topics are ``<prefix>/<agent_id>/<rest>`` (docs/PLATFORM.md). Records and alarms are
validated against the exported schemas and must name the agent and type their topic
names; a valid one is stored once (by id) and acked whether it was new or a
duplicate, since a duplicate means the agent did not get the earlier ack.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from simulator.platform.media import SAFE_NAME, MediaAssembler, Outcome
from simulator.platform.store import PlatformStore
from simulator.platform.validate import SchemaValidator


class MessageHandlers:
    def __init__(self, prefix: str, validator: SchemaValidator, media: MediaAssembler) -> None:
        self.prefix_parts = prefix.strip("/").split("/")
        self.validator = validator
        self.media = media

    def handle(self, conn: sqlite3.Connection, topic: str, payload: bytes) -> tuple[str | None, Outcome]:
        """Returns (agent_id, outcome); agent_id is None for a topic outside the interface."""
        parts = topic.split("/")
        n = len(self.prefix_parts)
        if parts[:n] != self.prefix_parts or len(parts) <= n + 1:
            return None, Outcome("unknown", rejected=f"topic outside {'/'.join(self.prefix_parts)}/")
        agent_id, rest = parts[n], parts[n + 1:]
        if not SAFE_NAME.match(agent_id):
            return agent_id, Outcome("unknown", rejected="agent id not usable as a name")
        match rest:
            case ["rec", record_type] if record_type != "alarm":  # alarms have their own topic
                return agent_id, self._record(conn, agent_id, record_type, payload)
            case ["alarm"]:
                return agent_id, self._record(conn, agent_id, "alarm", payload)
            case ["tele", device_id]:
                return agent_id, self._telemetry(conn, agent_id, device_id, payload)
            case ["media", media_id, "meta"]:
                return agent_id, self.media.on_manifest(conn, agent_id, media_id, payload)
            case ["media", media_id, chunk] if chunk.isdigit():
                return agent_id, self.media.on_chunk(conn, agent_id, media_id, int(chunk), payload)
            case ["status"]:
                return agent_id, self._status(conn, agent_id, payload)
            case ["cmd", "res"]:
                return agent_id, self._command_result(conn, agent_id, payload)
        return agent_id, Outcome("unknown", rejected=f"unexpected topic {'/'.join(rest)!r}")

    # --- records and alarms ----------------------------------------------------------

    def _record(self, conn: sqlite3.Connection, agent_id: str, record_type: str, payload: bytes) -> Outcome:
        out = Outcome(record_type)
        envelope = _json_object(payload)
        if envelope is None:
            out.rejected = "not a JSON object"
            return out
        out.item_id = envelope.get("id") if isinstance(envelope.get("id"), str) else None
        if record_type != "alarm" and record_type not in self.validator.record_types:
            out.rejected = f"unknown record type {record_type!r}"
        elif envelope.get("type") != record_type:
            out.rejected = f"envelope type {envelope.get('type')!r} on a {record_type!r} topic"
        elif envelope.get("agent_id") != agent_id:
            out.rejected = f"envelope agent_id {envelope.get('agent_id')!r} on agent {agent_id!r}'s topic"
        else:
            out.rejected = self.validator.problem(record_type, envelope)
        if out.rejected:
            return out
        out.stored = PlatformStore.add_record(conn, agent_id, envelope, payload.decode("utf-8"))
        out.duplicate = not out.stored
        out.ack = [envelope["id"]]
        return out

    # --- telemetry, status, command results -------------------------------------------

    def _telemetry(self, conn: sqlite3.Connection, agent_id: str, device_id: str, payload: bytes) -> Outcome:
        out = Outcome("telemetry")
        batch = _json_object(payload)
        if batch is None:
            out.rejected = "not a JSON object"
            return out
        out.item_id = batch.get("id") if isinstance(batch.get("id"), str) else None
        out.rejected = self.validator.problem("telemetry", batch)
        if not out.rejected and batch.get("device_id") != device_id:
            out.rejected = f"batch device_id {batch.get('device_id')!r} on a {device_id!r} topic"
        if out.rejected:
            return out
        out.stored = PlatformStore.add_telemetry(conn, agent_id, batch, payload.decode("utf-8"))
        out.duplicate = not out.stored and out.item_id is not None
        if out.item_id is not None:  # batches without an id (plain v1) are not acked
            out.ack = [out.item_id]
        return out

    @staticmethod
    def _status(conn: sqlite3.Connection, agent_id: str, payload: bytes) -> Outcome:
        out = Outcome("status")
        if not payload:
            PlatformStore.set_status(conn, agent_id, None)
            return out
        status = _json_object(payload)
        if status is None:
            out.rejected = "status is not a JSON object"
            return out
        PlatformStore.set_status(conn, agent_id, status)
        out.stored = True
        return out

    @staticmethod
    def _command_result(conn: sqlite3.Connection, agent_id: str, payload: bytes) -> Outcome:
        out = Outcome("cmd_result")
        res = _json_object(payload)
        if res is None or not isinstance(res.get("id"), str) or not isinstance(res.get("ok"), bool):
            out.rejected = "command result needs a JSON object with a string id and a boolean ok"
            return out
        out.item_id = res["id"]
        out.stored = PlatformStore.add_command_result(conn, agent_id, res)
        out.duplicate = not out.stored
        return out


def _json_object(payload: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None
