"""Media transfer: a manifest, then fixed-size chunks, resumable across restarts.

``<root>/media/<id>/meta`` carries content type, size, sha256, chunk size and count
and the record or alarm it belongs to; ``<root>/media/<id>/<n>`` carries chunk n.
A chunk the broker has acknowledged is remembered in the store, so after a
reconnect or restart only the missing chunks are sent again. The platform acks the
media id once it has reassembled and verified the file; if that ack does not come
in time the whole object is sent again (the broker may have lost chunks).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from agent.store import OutboxItem, Store
from agent.uplink.topics import media_chunk, media_meta

log = logging.getLogger("agent.uplink.media")

CHUNK_SIZE = 64 * 1024

Publish = Callable[[str, bytes, int], int]  # (topic suffix, payload, qos) -> mid


@dataclass(frozen=True)
class ChunkRef:
    media_id: str
    chunk: int


class MediaSender:
    def __init__(self, store: Store, chunk_size: int = CHUNK_SIZE) -> None:
        self.store = store
        self.chunk_size = chunk_size
        self.chunk_by_mid: dict[int, ChunkRef] = {}

    def reset(self) -> None:
        self.chunk_by_mid.clear()

    def send(self, item: OutboxItem, publish: Publish) -> list[int]:
        """Publish the manifest and every chunk not yet on the broker; return the mids."""
        info = self.store.media_info(item.id)
        if info is None or info["evicted"]:
            log.warning("media gone from the store id=%s: dropping it from the outbox", item.id)
            self.store.ack([item.id])
            return []
        try:
            with open(info["path"], "rb") as fh:
                content = fh.read()
        except OSError as exc:
            log.error("media file unreadable id=%s: %s", item.id, exc)
            return []
        count = max(1, -(-len(content) // self.chunk_size))
        manifest = {"id": item.id, "content_type": info["content_type"], "bytes": len(content),
                    "sha256": info["sha256"], "chunk_size": self.chunk_size, "chunk_count": count,
                    "record_id": info["record_id"], "role": info["role"], "created_at": info["created_at"]}
        mids = [publish(media_meta(item.id), json.dumps(manifest).encode(), 1)]
        done = self.store.media_chunks_done(item.id)
        for n in range(count):
            if n in done:
                continue
            chunk = content[n * self.chunk_size:(n + 1) * self.chunk_size]
            mid = publish(media_chunk(item.id, n), chunk, 1)
            self.chunk_by_mid[mid] = ChunkRef(item.id, n)
            mids.append(mid)
        return mids

    def on_puback(self, mid: int) -> ChunkRef | None:
        return self.chunk_by_mid.pop(mid, None)

    def restart_object(self, media_id: str) -> None:
        """The platform never confirmed it: forget chunk progress and send it whole."""
        self.store.forget_media_chunks(media_id)
