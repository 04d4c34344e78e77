"""The public side's one way to the agent (in the child process): ask the time, hand over
a complaint or a survey answer, fetch a camera's still. Everything else the child reads
itself, from the store opened read-only; it never writes the store.

One request at a time (a lock): the agent answers each in a few milliseconds, and what
reaches this door has passed the child's own limits already.
"""

from __future__ import annotations

import socket
import threading
from datetime import datetime
from typing import Any

from agent.core.recorder import Photo
from agent.public import ipc


class Door:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = threading.Lock()

    def ask(self, header: dict[str, Any], blob: bytes = b"") -> tuple[dict[str, Any], bytes]:
        with self._lock:
            ipc.send(self._sock, header, blob)
            return ipc.recv(self._sock)

    def ready(self) -> None:
        self.ask({"op": "ready"})

    def now(self) -> datetime:
        """The agent's clock (the one its records carry), not this process's."""
        return datetime.fromisoformat(str(self.ask({"op": "now"})[0]["now"]))

    def complaint(self, *, category: str, text: str, channel: str, invite_id: str | None,
                  photo: Photo | None) -> tuple[str, str] | str:
        """(record id, receipt code) once the agent has stored it; else the refusal's reason."""
        header = {"op": "complaint", "category": category, "text": text, "channel": channel, "invite_id": invite_id,
                  "photo_type": photo.content_type if photo else None}
        answer, _ = self.ask(header, photo.content if photo else b"")
        if "refused" in answer:
            return str(answer["refused"])
        return str(answer["id"]), str(answer["receipt"])

    def survey_answer(self, survey_id: str, device: str, answers: dict[str, str]) -> str | None:
        """None once the agent has kept the answer; else the refusal's reason."""
        answer, _ = self.ask({"op": "survey", "survey_id": survey_id, "device": device, "answers": answers})
        return str(answer["refused"]) if "refused" in answer else None

    def still(self, camera: str) -> bytes | None:
        """The camera's newest frame as a JPEG (whole), or None when it has none now."""
        answer, blob = self.ask({"op": "still", "camera": camera})
        return blob if answer.get("ok") and blob else None
