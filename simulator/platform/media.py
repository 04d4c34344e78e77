"""Media reassembly: a manifest plus numbered chunks become one verified file.

Manifest and chunks are kept in the platform database until the object is complete,
so they may arrive in any order, across reconnects, and at different platform
instances of one share group. When the last piece arrives the chunks are joined,
the size and sha256 checked against the manifest, the file written (fsync, then
rename) and the media row committed; only then is the media id acked. A mismatch
discards what was received, so the agent's full resend starts clean; it is not acked.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.fsutil import write_atomically
from simulator.platform.store import utcnow

log = logging.getLogger("simulator.platform.media")

MAX_MEDIA_BYTES = 256 * 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")  # usable as a file name


@dataclass
class Outcome:
    """What handling one message did; the platform acks ``ack`` after the commit."""

    kind: str  # the record type, "alarm", "telemetry", "media", "status", "cmd_result", "unknown"
    ack: list[str] = field(default_factory=list)
    stored: bool = False
    duplicate: bool = False
    rejected: str | None = None  # reason, if the item was refused
    item_id: str | None = None


def manifest_problem(media_id: str, manifest: Any) -> str | None:
    if not isinstance(manifest, dict):
        return "manifest is not a JSON object"
    if manifest.get("id", media_id) != media_id:
        return f"manifest id {manifest.get('id')!r} differs from the topic's {media_id!r}"
    size, chunk_size, count = manifest.get("bytes"), manifest.get("chunk_size"), manifest.get("chunk_count")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (size, chunk_size, count)):
        return "bytes, chunk_size and chunk_count must be integers"
    if not 0 <= size <= MAX_MEDIA_BYTES or chunk_size < 1 or count < 1:
        return f"bad sizes bytes={size} chunk_size={chunk_size} chunk_count={count}"
    if count != max(1, -(-size // chunk_size)):
        return f"chunk_count {count} does not fit bytes={size} chunk_size={chunk_size}"
    if not isinstance(manifest.get("sha256"), str) or not _SHA256.match(manifest["sha256"]):
        return "sha256 must be 64 lowercase hex digits"
    if not isinstance(manifest.get("content_type"), str):
        return "content_type missing"
    return None


class MediaAssembler:
    def __init__(self, media_dir: str | Path) -> None:
        self.media_dir = Path(media_dir)

    def on_manifest(self, conn: sqlite3.Connection, agent_id: str, media_id: str, payload: bytes) -> Outcome:
        out = Outcome("media", item_id=media_id)
        if not SAFE_NAME.match(media_id):
            out.rejected = "media id has characters not allowed in a file name"
            return out
        if self._stored(conn, media_id):
            out.duplicate, out.ack = True, [media_id]  # a resend after a lost ack: ack again
            return out
        try:
            manifest = json.loads(payload)
        except ValueError:
            out.rejected = "manifest is not JSON"
            return out
        problem = manifest_problem(media_id, manifest)
        if problem:
            out.rejected = problem
            return out
        conn.execute("INSERT OR REPLACE INTO media_manifests(id, agent_id, manifest, received_at)"
                     " VALUES (?,?,?,?)", (media_id, agent_id, json.dumps(manifest), utcnow()))
        return self._try_assemble(conn, agent_id, media_id, out)

    def on_chunk(self, conn: sqlite3.Connection, agent_id: str, media_id: str, n: int,
                 data: bytes) -> Outcome:
        out = Outcome("media", item_id=media_id)
        if not SAFE_NAME.match(media_id):
            out.rejected = "media id has characters not allowed in a file name"
            return out
        if self._stored(conn, media_id):
            return out  # a late or resent chunk; the manifest sent with a resend triggers the re-ack
        conn.execute("INSERT OR REPLACE INTO media_chunks(media_id, n, data) VALUES (?,?,?)",
                     (media_id, n, data))
        return self._try_assemble(conn, agent_id, media_id, out)

    @staticmethod
    def _stored(conn: sqlite3.Connection, media_id: str) -> bool:
        return conn.execute("SELECT 1 FROM media WHERE id=?", (media_id,)).fetchone() is not None

    def _try_assemble(self, conn: sqlite3.Connection, agent_id: str, media_id: str, out: Outcome) -> Outcome:
        row = conn.execute("SELECT manifest FROM media_manifests WHERE id=?", (media_id,)).fetchone()
        if row is None:
            return out  # chunks first, manifest later: wait for it
        manifest = json.loads(row["manifest"])
        count = manifest["chunk_count"]
        have = conn.execute("SELECT count(*) FROM media_chunks WHERE media_id=? AND n < ?",
                            (media_id, count)).fetchone()[0]
        if have < count:
            return out
        chunks = conn.execute("SELECT n, data FROM media_chunks WHERE media_id=? AND n < ? ORDER BY n",
                              (media_id, count)).fetchall()
        content = b"".join(bytes(c["data"]) for c in chunks)
        problem = self._content_problem(manifest, chunks, content)
        self._discard_pieces(conn, media_id)
        if problem:
            out.rejected = problem
            return out
        path = self._write_file(agent_id, media_id, manifest["content_type"], content)
        conn.execute("INSERT OR IGNORE INTO media(id, agent_id, content_type, bytes, sha256, record_id,"
                     " role, path, received_at) VALUES (?,?,?,?,?,?,?,?,?)",
                     (media_id, agent_id, manifest["content_type"], len(content), manifest["sha256"],
                      manifest.get("record_id"), manifest.get("role"), str(path), utcnow()))
        out.stored, out.ack = True, [media_id]
        log.info("media stored agent=%s id=%s bytes=%d", agent_id, media_id, len(content))
        return out

    @staticmethod
    def _content_problem(manifest: dict[str, Any], chunks: list[sqlite3.Row], content: bytes) -> str | None:
        size = manifest["chunk_size"]
        for chunk in chunks[:-1]:
            if len(chunk["data"]) != size:
                return f"chunk {chunk['n']} has {len(chunk['data'])} bytes, expected {size}"
        if len(content) != manifest["bytes"]:
            return f"size mismatch: got {len(content)} bytes, manifest says {manifest['bytes']}"
        digest = hashlib.sha256(content).hexdigest()
        if digest != manifest["sha256"]:
            return f"sha256 mismatch: got {digest[:16]}..., manifest says {manifest['sha256'][:16]}..."
        return None

    @staticmethod
    def _discard_pieces(conn: sqlite3.Connection, media_id: str) -> None:
        conn.execute("DELETE FROM media_chunks WHERE media_id=?", (media_id,))
        conn.execute("DELETE FROM media_manifests WHERE id=?", (media_id,))

    def _write_file(self, agent_id: str, media_id: str, content_type: str, content: bytes) -> Path:
        folder = self.media_dir / agent_id
        folder.mkdir(parents=True, exist_ok=True)
        extension = mimetypes.guess_extension(content_type.split(";")[0].strip()) or ".bin"
        path = folder / f"{media_id}{extension}"
        write_atomically(path, content)
        return path
