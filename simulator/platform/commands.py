"""Platform commands as docs/PLATFORM.md defines them, optionally Ed25519-signed.

A command names the agent it is for (``agent_id``) and is valid for a short time
(``issued_at`` .. ``expires_at``); both are inside the signature, which covers the
canonical JSON of the command without ``sig``:
``json.dumps(cmd, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
encoded as UTF-8; ``sig`` is its base64 (see docs/PLATFORM.md).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)

from agent.core.timeutil import uuid7


def canonical_json(command: dict[str, Any]) -> bytes:
    body = {k: v for k, v in command.items() if k != "sig"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def build_command(name: str, args: dict[str, Any] | None = None, *, agent_id: str | None = None,
                  sign_with: Ed25519PrivateKey | None = None, expires_in: float = 60.0,
                  now: datetime | None = None, command_id: str | None = None) -> dict[str, Any]:
    """A command dict ready to publish; signed when a private key is given.

    ``agent_id`` binds it to one agent (inside the signature; agents refuse a signed
    command without it). Keep ``expires_in`` within the agents' validity window
    (``broker.command_max_validity_s``, 1 h by default)."""
    issued = (now or datetime.now(UTC)).astimezone()
    command: dict[str, Any] = {
        "id": command_id or uuid7(), "name": name, "args": args or {},
        **({"agent_id": agent_id} if agent_id is not None else {}),
        "issued_at": issued.isoformat(timespec="milliseconds"),
        "expires_at": (issued + timedelta(seconds=expires_in)).isoformat(timespec="milliseconds"),
    }
    if sign_with is not None:
        command["sig"] = sign(command, sign_with)
    return command


def sign(command: dict[str, Any], key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.sign(canonical_json(command))).decode("ascii")


def verify(command: dict[str, Any], public_key: Ed25519PublicKey) -> bool:
    """True if ``sig`` is a valid signature of the rest of the command."""
    try:
        public_key.verify(base64.b64decode(command["sig"], validate=True), canonical_json(command))
        return True
    except (InvalidSignature, KeyError, ValueError):
        return False


def public_key_b64(key: Ed25519PrivateKey) -> str:
    """The raw public key in base64: what goes in the agent's broker.platform_public_key."""
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file or a file holding the raw 32 bytes in base64."""
    text = Path(path).read_text().strip()
    if text.startswith("-----BEGIN"):
        key = load_pem_private_key(text.encode(), password=None)
    else:
        key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key
