"""Platform commands: checked, executed at most once, answered exactly once.

A command is refused, with a result saying why and nothing executed, when it is
malformed, unsigned or badly signed (where a platform key is configured), meant for
another agent (``agent_id``; required when signed), issued in the future beyond the
clock skew allowance, valid for longer than the window (``expires_at - issued_at``),
expired, or already executed (ids are persisted, so a replay after a restart is
refused too).
The signature is Ed25519 over the canonical JSON of the command without ``sig``:
``json.dumps(cmd, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` in
UTF-8, base64-encoded (see docs/PLATFORM.md).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from agent.command_contract import CommandError, Handler, first_error, load_public_key
from agent.store import Store
from agent.uplink.inbound import COMMAND_MAX_BYTES, InboundError, decode_json, top_level_id

log = logging.getLogger("agent.uplink.commands")


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=64)
    args: dict[str, Any] = Field(default_factory=dict)
    agent_id: str | None = Field(None, min_length=1, max_length=128)
    issued_at: AwareDatetime
    expires_at: AwareDatetime
    sig: str | None = None


def canonical_json(command: dict[str, Any]) -> bytes:
    body = {k: v for k, v in command.items() if k != "sig"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def result(command_id: str | None, ok: bool, *, error: str | None = None,
           data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": command_id, "ok": ok, "error": error, "result": data}


class CommandProcessor:
    def __init__(self, store: Store, handlers: dict[str, Handler], now: Callable[[], datetime],
                 public_key: str | None, *, agent_id: str, max_validity_s: float = 3600.0,
                 clock_skew_s: float = 300.0) -> None:
        self.store = store
        self.handlers = handlers
        self.now = now
        self.key = load_public_key(public_key) if public_key else None
        self.agent_id = agent_id
        self.max_validity = timedelta(seconds=max_validity_s)
        self.clock_skew = timedelta(seconds=clock_skew_s)
        self.refused = 0
        self.executed = 0

    def process(self, payload: bytes) -> dict[str, Any]:
        """Check and run one command; always returns the result to publish."""
        raw, command_id, problem = self._decode(payload)
        if raw is None:
            return self._refuse(command_id, f"malformed: {problem}")
        try:
            command = Command.model_validate(raw)
        except ValidationError as exc:
            return self._refuse(command_id, f"malformed: {first_error(exc, 'command')}")
        refusal = self._check(raw, command)
        if refusal:
            return self._refuse(command.id, refusal)
        if not self.store.claim_command(command.id, command.name, self.now().isoformat()):
            return self._refuse(command.id, "replay: command already executed")
        return self._execute(command)

    @staticmethod
    def _decode(payload: bytes) -> tuple[dict[str, Any] | None, str | None, str]:
        """(command, its id, reason): size and nesting bounded before any JSON decoding."""
        try:
            raw = decode_json(payload, max_bytes=COMMAND_MAX_BYTES)
        except InboundError as exc:
            return None, top_level_id(payload), str(exc)
        if not isinstance(raw, dict):
            return None, None, "not a JSON object"
        command_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        return raw, command_id, ""

    def _check(self, raw: dict[str, Any], command: Command) -> str | None:
        if self.key is not None:
            from cryptography.exceptions import InvalidSignature

            if not command.sig:
                return "unsigned: a platform signature is required"
            try:
                self.key.verify(base64.b64decode(command.sig, validate=True), canonical_json(raw))
            except (InvalidSignature, binascii.Error, ValueError):
                return "bad signature"
        problem = self._check_binding(command)
        if problem:
            return problem
        if command.name not in self.handlers:
            return f"unknown command {command.name!r}"
        return None

    def _check_binding(self, command: Command) -> str | None:
        """Bound to this agent and to a short time: a command signed for another agent,
        republished on our topic, or one made to run for days, is refused."""
        if command.agent_id is None and self.key is not None:
            return "unbound: a signed command must name its agent_id"
        if command.agent_id is not None and command.agent_id != self.agent_id:
            return f"for another agent: {command.agent_id!r}"
        now = self.now()
        if command.issued_at > now + self.clock_skew:
            return (f"issued in the future: {command.issued_at.isoformat()} is more than "
                    f"{self.clock_skew.total_seconds():.0f} s after our clock")
        if command.expires_at <= command.issued_at:
            return "expires before it is issued"
        if command.expires_at - command.issued_at > self.max_validity:
            return (f"validity too long: {(command.expires_at - command.issued_at).total_seconds():.0f} s "
                    f"(at most {self.max_validity.total_seconds():.0f} s)")
        if command.expires_at <= now:
            return f"expired at {command.expires_at.isoformat()}"
        return None

    def _execute(self, command: Command) -> dict[str, Any]:
        handler = self.handlers[command.name]
        try:
            data = handler(command.args)
            outcome = result(command.id, True, data=data)
        except CommandError as exc:
            outcome = result(command.id, False, error=str(exc))
        except Exception as exc:  # a handler bug must still produce one answer
            log.exception("command handler failed name=%s id=%s", command.name, command.id)
            outcome = result(command.id, False, error=f"internal error: {exc!r}")
        self.store.finish_command(command.id, outcome["ok"], outcome)
        self.executed += 1
        log.info("command done name=%s id=%s ok=%s", command.name, command.id, outcome["ok"])
        return outcome

    def _refuse(self, command_id: str | None, reason: str) -> dict[str, Any]:
        self.refused += 1
        log.warning("command refused id=%s reason=%s", command_id, reason)
        return result(command_id, False, error=reason)
