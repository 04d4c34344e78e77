"""Console accounts: who may log in, with what role, and the password check.

Staff use the station screens without logging in. The school's people log in with one
of the roles the provincial annex names (``agent.console.roles``: the data
administrator, the canteen supervisor, food-safety staff, oversight, and the installer);
their password is kept only as an scrypt hash (stdlib ``hashlib.scrypt``: memory-hard,
no extra dependency on the box) in the agent's store, created with
``canteen-agent user add NAME --role manager`` or by the data administrator on the
console's accounts page. Failed logins are limited per client address and per user name
(``LoginLimiter``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

# data_admin 食安资料管理员, manager 食堂主管 (the canteen supervisor), staff 食安工作相关人员,
# oversight 食安监督管理员, installer 安装维护人员: what each may do is agent.console.roles.MAY
Role = Literal["data_admin", "manager", "staff", "oversight", "installer"]
ROLES: tuple[Role, ...] = ("data_admin", "manager", "staff", "oversight", "installer")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
MIN_PASSWORD = 8
# scrypt cost: n=2^14, r=8 uses 16 MiB and ~50 ms on a Pi 4; the figures travel with the hash
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1


class UserStore(Protocol):
    """What accounts need from the agent's store."""

    def save_console_user(self, user: dict[str, Any], at: str | None = None) -> None: ...

    def console_user(self, name: str) -> dict[str, Any] | None: ...

    def console_users(self) -> list[dict[str, Any]]: ...

    def delete_console_user(self, name: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64), for the store."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024,
                          dklen=32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class AccountError(ValueError):
    """An account change refused; ``message`` is the console's English message id, ``str()``
    the CLI's line."""

    def __init__(self, text: str, message: str) -> None:
        super().__init__(text)
        self.message = message


def add_user(store: UserStore, name: str, role: str, password: str, at: datetime,
             by: str | None = None) -> User:
    """Create or replace an account; AccountError (a ValueError) for a bad name, role or
    short password, or for taking the role away from the last data administrator."""
    if not re.match(NAME_PATTERN, name):
        raise AccountError("user names are letters, digits and _ . @ - (up to 64)",
                           "User names are letters, digits and _ . @ - (up to 64)")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}", "Choose a role")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password needs at least {MIN_PASSWORD} characters",
                           "The password needs at least 8 characters")
    old = store.console_user(name)
    if old is not None and old.get("role") == "data_admin" and role != "data_admin":
        _keep_a_data_admin(store, name)
    user: dict[str, Any] = {"name": name, "role": role, "password": hash_password(password),
                            "created_at": (old or {}).get("created_at") or at.isoformat()}
    if old is not None:
        user["changed_at"] = at.isoformat()
    if by:
        user["changed_by" if old is not None else "created_by"] = by
        if old is not None and old.get("created_by"):
            user["created_by"] = old["created_by"]
    store.save_console_user(user, at.isoformat())
    return User(name, role)


def remove_user(store: UserStore, name: str) -> None:
    """Delete an account (its records keep its name); AccountError for an unknown name or
    the last data administrator."""
    old = store.console_user(name)
    if old is None:
        raise AccountError(f"no account {name}", "No such account")
    if old.get("role") == "data_admin":
        _keep_a_data_admin(store, name)
    store.delete_console_user(name)


def _keep_a_data_admin(store: UserStore, leaving: str) -> None:
    others = [u for u in store.console_users() if u.get("role") == "data_admin" and u.get("name") != leaving]
    if not others:
        raise AccountError("the school keeps at least one data administrator: add another first",
                           "The school keeps at least one data administrator: add another first")


def authenticate(store: UserStore, name: str, password: str) -> User | None:
    """The user when the password matches; None otherwise (unknown names cost the same)."""
    record = store.console_user(name) if name else None
    stored = record["password"] if record else _DUMMY_HASH
    ok = verify_password(password, stored)
    if not ok or record is None or record.get("role") not in ROLES:
        return None
    return User(record["name"], record["role"])


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))  # unknown names take as long as known ones


class LoginLimiter:
    """At most ``attempts`` failures per client and per user name within ``window_s``."""

    def __init__(self, attempts: int, window_s: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._monotonic = monotonic  # injected: tests move it instead of sleeping
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, *keys: str) -> bool:
        now = self._monotonic()
        with self._lock:
            return any(len(self._recent(k, now)) >= self.attempts for k in keys)

    def failed(self, *keys: str) -> None:
        now = self._monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > self.window_s:
            times.popleft()
        return times
