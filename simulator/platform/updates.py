"""The reference platform's side of remote updates (docs/PLATFORM.md §12): a package
offered to agents over MQTT (chunks answered on request) and the signed ``update``
command that names it."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.updater.service import signed_text

log = logging.getLogger("simulator.platform.updates")

CHUNK_SIZE = 256 * 1024


@dataclass
class Offer:
    transfer_id: str
    path: Path
    size: int
    sha256: str
    chunk_size: int
    chunks_sent: int = 0
    requests: int = 0
    agents: set[str] = field(default_factory=set)


def package_version(path: Path) -> str:
    """``Version`` from a .deb's control file (the agent's own reader)."""
    from agent.updater.debpkg import control_fields

    return control_fields(path)["Version"]


class UpdateServer:
    """Answers ``<prefix>/<agent>/dl/req`` with the chunks asked for."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.offers: dict[str, Offer] = {}
        self.lock = threading.Lock()
        self.paused = threading.Event()  # tests: stop answering (a link that went quiet)

    def offer(self, path: Path, chunk_size: int = CHUNK_SIZE) -> Offer:
        data_hash = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                data_hash.update(block)
        found = Offer(uuid.uuid4().hex[:16], Path(path), Path(path).stat().st_size, data_hash.hexdigest(),
                      chunk_size)
        with self.lock:
            self.offers[found.transfer_id] = found
        return found

    def handle(self, client: mqtt.Client, topic: str, payload: bytes) -> None:
        """One request; answered from the paho thread (chunks are read from disk)."""
        agent_id = topic[len(self.prefix) + 1:].split("/", 1)[0]
        try:
            body = json.loads(payload)
            offer = self.offers[str(body["transfer_id"])]
            chunks = [int(n) for n in body["chunks"]][:64]
        except (ValueError, KeyError, TypeError):
            log.warning("bad download request from agent=%s", agent_id)
            return
        if self.paused.is_set():
            return
        offer.requests += 1
        offer.agents.add(agent_id)
        with open(offer.path, "rb") as fh:
            for n in chunks:
                if not 0 <= n * offer.chunk_size < offer.size:
                    continue
                fh.seek(n * offer.chunk_size)
                data = fh.read(offer.chunk_size)
                client.publish(f"{self.prefix}/{agent_id}/dl/{offer.transfer_id}/{n}", data, qos=1)
                offer.chunks_sent += 1


def sign_package(key: Ed25519PrivateKey, version: str, sha256: str, size: int) -> str:
    return base64.b64encode(key.sign(signed_text(version, sha256, size))).decode()


def update_args(offer: Offer, version: str, release_key: Ed25519PrivateKey, *,
                sha256: str | None = None, size: int | None = None,
                url: str | None = None) -> dict[str, Any]:
    """The ``update`` command's args for an offered package (``sha256`` / ``size`` to
    announce something else than the file, as tests of a wrong hash do)."""
    digest, length = sha256 or offer.sha256, size or offer.size
    source: dict[str, Any] = ({"https": {"url": url}} if url else
                              {"mqtt": {"transfer_id": offer.transfer_id, "chunk_size": offer.chunk_size}})
    return {"version": version, "sha256": digest, "size": length,
            "signature": sign_package(release_key, version, digest, length), "source": source}
