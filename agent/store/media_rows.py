"""How a media object becomes a file on disk and a row: the draft, the file, the insert.

The file is written and fsynced in the producer's thread, before its row is submitted,
so a committed row never names a file that is not on disk. If the transaction holding
the row then fails, the producer removes the file again: the media folder keeps only
objects the store knows, and the disk budget (which evicts by row) can account for all.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agent.fsutil import write_atomically
from agent.store.record_rows import INSERT_OUTBOX
from agent.store.schema import Priority
from agent.store.writer import StoreConnection

log = logging.getLogger("agent.store")

INSERT_MEDIA = (
    "INSERT INTO media(id, path, content_type, bytes, sha256, record_id, role, created_at, evicted)"
    " VALUES (?,?,?,?,?,?,?,?,0)")


class MediaDraft:
    """A media object ready to store: its bytes and what its row and its MediaRef say."""

    __slots__ = ("content", "content_type", "created_at", "id", "role", "sha256", "suffix")

    def __init__(self, media_id: str, content: bytes, content_type: str, *, role: str | None,
                 created_at: str, suffix: str = ".bin") -> None:
        """``created_at``: RFC 3339; its date names the day folder the file goes in."""
        self.id = media_id
        self.content = content
        self.content_type = content_type
        self.role = role
        self.created_at = created_at
        self.suffix = suffix
        self.sha256 = hashlib.sha256(content).hexdigest()  # once: clips run to megabytes

    def ref(self) -> dict[str, Any]:
        """The MediaRef an envelope's ``media`` lists for this object."""
        return {"id": self.id, "content_type": self.content_type, "bytes": len(self.content),
                "sha256": self.sha256, "role": self.role}

    def path_in(self, media_dir: Path) -> Path:
        return media_dir / self.created_at[:10] / f"{self.id}{self.suffix}"


def write_files(media_dir: Path, media: Iterable[MediaDraft]) -> list[Path]:
    """Write each object's file durably; if one fails, those already written are removed."""
    paths: list[Path] = []
    try:
        for item in media:
            path = item.path_in(media_dir)
            write_atomically(path, item.content)
            paths.append(path)
    except BaseException:
        remove_files(paths)
        raise
    return paths


def remove_files(paths: Iterable[Path]) -> None:
    """Take back files whose rows were not committed. Not fsynced: a file a power cut
    brings back has no row, so nothing ever sends it."""
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("media file not removed path=%s error=%s", path, exc)


def insert_media(conn: StoreConnection, media: MediaDraft, path: Path, record_id: str | None) -> None:
    """Index one object and queue it for the platform, inside the writer's open transaction."""
    conn.execute(INSERT_MEDIA, (media.id, str(path), media.content_type, len(media.content), media.sha256,
                                record_id, media.role, media.created_at))
    conn.execute(INSERT_OUTBOX, (media.id, int(Priority.MEDIA), "media", media.id, None, media.created_at))
