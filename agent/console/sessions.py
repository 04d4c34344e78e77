"""Browser sessions: an opaque id in an HttpOnly, SameSite=Strict cookie, kept in memory.

A session exists from the first page (so the login form already carries a CSRF token)
and gets a user at login. It ends after ``idle_s`` without a request, at logout, and
when the agent restarts (nothing about it is stored on disk).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.console.auth import User

COOKIE = "canteen_console"
MAX_SESSIONS = 1000  # a flood of cookie-less requests cannot grow memory without bound


@dataclass
class Session:
    id: str
    csrf: str
    user: User | None = None
    last_seen: float = field(default_factory=time.monotonic)


class SessionStore:
    def __init__(self, idle_s: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.idle_s = idle_s
        self._monotonic = monotonic  # injected: tests move it instead of sleeping
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id (its idle clock restarted), or None."""
        if not session_id:
            return None
        now = self._monotonic()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.last_seen > self.idle_s:
                del self._sessions[session_id]
                return None
            session.last_seen = now
            return session

    def new(self) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), last_seen=self._monotonic())
        with self._lock:
            self._expire(self._monotonic())
            if len(self._sessions) >= MAX_SESSIONS:
                oldest = min(self._sessions.values(), key=lambda s: s.last_seen)
                del self._sessions[oldest.id]
            self._sessions[session.id] = session
        return session

    def login(self, session: Session, user: User) -> Session:
        """A fresh id and CSRF token for the logged-in user (no session fixation)."""
        fresh = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), user, last_seen=self._monotonic())
        with self._lock:
            self._sessions.pop(session.id, None)
            self._sessions[fresh.id] = fresh
        return fresh

    def end(self, session: Session) -> None:
        with self._lock:
            self._sessions.pop(session.id, None)

    def end_user(self, name: str) -> int:
        """End every session of an account whose role changed or that was removed."""
        with self._lock:
            ended = [s.id for s in self._sessions.values() if s.user is not None and s.user.name == name]
            for sid in ended:
                del self._sessions[sid]
        return len(ended)

    def _expire(self, now: float) -> None:
        for sid in [s.id for s in self._sessions.values() if now - s.last_seen > self.idle_s]:
            del self._sessions[sid]
