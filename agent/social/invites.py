"""Invite codes: the data administrator names each representative's code, with an end date,
and may revoke it; a code is shown once when made and kept only as its SHA-256.

Kept in the store's key-value table: ``public.invite.<id>`` (the invite, with its code's
digest) and ``public.invite_code.<digest>`` (which invite a code opens).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from agent.social.codes import digest, new_code
from agent.social.port import SocialStore
from agent.words.terms import Term

log = logging.getLogger("agent.public")

INVITE_PREFIX, CODE_PREFIX = "public.invite.", "public.invite_code."
CODE_GROUPS, CODE_SIZE = 4, 5  # 20 symbols: ~99 bits
NAME_MAX = 64
KINDS: dict[str, Term] = {
    "parent": Term("家长代表（家委）", "parents' representative"),
    "social": Term("特邀社会代表", "invited social representative"),
}
Refusal = Literal["code_unknown", "code_revoked", "code_expired"]


@dataclass(frozen=True, slots=True)
class Invite:
    id: str
    name: str  # what the school calls the holder (shown to staff only)
    kind: str  # parent | social
    expires_at: datetime
    issued_by: str
    issued_at: datetime
    revoked_at: datetime | None = None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if now >= self.expires_at else "valid"

    @staticmethod
    def of(value: dict[str, Any]) -> Invite:
        revoked = value.get("revoked_at")
        return Invite(value["id"], value["name"], value["kind"], datetime.fromisoformat(value["expires_at"]),
                      value["issued_by"], datetime.fromisoformat(value["issued_at"]),
                      datetime.fromisoformat(revoked) if revoked else None)


class InviteRefused(Exception):
    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason)
        self.reason: Refusal = reason


class Invites:
    def __init__(self, store: SocialStore) -> None:
        self._store = store

    def issue(self, name: str, kind: str, valid_days: int, by: str, now: datetime) -> tuple[str, Invite]:
        """A new code (returned once, never stored) and its invite; ValueError for a bad name or kind."""
        name = name.strip()
        if not name or len(name) > NAME_MAX:
            raise ValueError("name")
        if kind not in KINDS:
            raise ValueError("kind")
        if not 1 <= valid_days <= 3 * 366:
            raise ValueError("days")
        code = new_code(CODE_GROUPS, CODE_SIZE)
        code_sha256 = digest(code)
        invite: dict[str, Any] = {"id": secrets.token_hex(8), "name": name, "kind": kind,
                  "expires_at": (now + timedelta(days=valid_days)).isoformat(), "issued_by": by,
                  "issued_at": now.isoformat(), "revoked_at": None, "code_sha256": code_sha256}
        self._store.kv_set(CODE_PREFIX + code_sha256, invite["id"], now.isoformat())
        self._store.kv_set(INVITE_PREFIX + invite["id"], invite, now.isoformat())
        log.info("public invite issued invite=%s kind=%s by=%s days=%d", invite["id"], kind, by, valid_days)
        return code, Invite.of(invite)

    def revoke(self, invite_id: str, by: str, now: datetime) -> bool:
        """False when there is no such invite or it was revoked before."""
        value = self._store.kv_get(INVITE_PREFIX + invite_id)
        if not isinstance(value, dict) or value.get("revoked_at"):
            return False
        value["revoked_at"] = now.isoformat()
        self._store.kv_set(INVITE_PREFIX + invite_id, value, now.isoformat())
        log.info("public invite revoked invite=%s by=%s", invite_id, by)
        return True

    def get(self, invite_id: str) -> Invite | None:
        value = self._store.kv_get(INVITE_PREFIX + invite_id)
        return Invite.of(value) if isinstance(value, dict) else None

    def check(self, code: str, now: datetime) -> Invite:
        """The valid invite a typed code opens; InviteRefused (unknown, revoked, expired) otherwise."""
        invite_id = self._store.kv_get(CODE_PREFIX + digest(code))
        invite = self.get(invite_id) if isinstance(invite_id, str) else None
        if invite is None:
            raise InviteRefused("code_unknown")
        state = invite.state(now)
        if state != "valid":
            raise InviteRefused("code_revoked" if state == "revoked" else "code_expired")
        return invite

    def all(self) -> list[Invite]:
        found = [self.get(key[len(INVITE_PREFIX):]) for key in self._store.kv_keys(INVITE_PREFIX)]
        return sorted((i for i in found if i is not None), key=lambda i: i.issued_at, reverse=True)
