"""The public side's own cookies: a representative's session, and a device's random id.

The session (``canteen_public``) holds only the invite's id, in memory, ending when idle,
at "leave" or a restart. The device cookie (``canteen_device``) is a random id that lets a
survey take one answer per device; nothing about the person is in it. Forms carry a
token derived from the device id (``csrf``), so a form posted from another site fails.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

SESSION_COOKIE, DEVICE_COOKIE = "canteen_public", "canteen_device"
MAX_SESSIONS = 2000
DEVICE_MAX_AGE_S = 400 * 86400


@dataclass
class PublicSession:
    id: str
    invite_id: str
    last_seen: float = field(default_factory=time.monotonic)


class PublicSessions:
    def __init__(self, idle_s: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.idle_s = idle_s
        self._monotonic = monotonic
        self._sessions: dict[str, PublicSession] = {}
        self._lock = threading.Lock()
        self._secret = secrets.token_bytes(32)  # per run: forms from before a restart are re-opened

    def get(self, session_id: str | None) -> PublicSession | None:
        if not session_id:
            return None
        now = self._monotonic()
        with self._lock:
            found = self._sessions.get(session_id)
            if found is None:
                return None
            if now - found.last_seen > self.idle_s:
                del self._sessions[session_id]
                return None
            found.last_seen = now
            return found

    def start(self, invite_id: str) -> PublicSession:
        now = self._monotonic()
        with self._lock:
            for sid in [s.id for s in self._sessions.values() if now - s.last_seen > self.idle_s]:
                del self._sessions[sid]
            if len(self._sessions) >= MAX_SESSIONS:
                oldest = min(self._sessions.values(), key=lambda s: s.last_seen)
                del self._sessions[oldest.id]
            found = PublicSession(secrets.token_urlsafe(32), invite_id, now)
            self._sessions[found.id] = found
            return found

    def end(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)

    def end_invite(self, invite_id: str) -> None:
        """A revoked code's sessions end at once."""
        with self._lock:
            for sid in [s.id for s in self._sessions.values() if s.invite_id == invite_id]:
                del self._sessions[sid]

    def form_token(self, device: str) -> str:
        return hmac.new(self._secret, device.encode(), hashlib.sha256).hexdigest()[:32]

    def form_ok(self, device: str | None, token: object) -> bool:
        return bool(device) and isinstance(token, str) and hmac.compare_digest(token, self.form_token(device or ""))


def new_device() -> str:
    return secrets.token_urlsafe(18)
