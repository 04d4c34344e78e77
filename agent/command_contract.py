"""The contract between the platform's commands and whoever answers them.

A capability that answers platform commands (the agent's own, vision's snapshot and live
video, video's streams and fetches) gives the uplink a ``Handler`` per command name: it
takes the command's ``args`` and returns its ``result``, or raises ``CommandError`` with a
reason a person can read; nothing is half-applied. ``parse_args`` turns ``args`` into the
handler's pydantic model, or into that error. The uplink checks the command itself
(signature with the key ``load_public_key`` reads, binding, expiry, replay) before any
handler runs; this module is below the uplink so that answering a command never means
importing the MQTT side.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:  # cryptography (~8 MB resident) loads only when a platform key is configured
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

Handler = Callable[[dict[str, Any]], dict[str, Any]]
Args = TypeVar("Args", bound=BaseModel)


class CommandError(Exception):
    """A command that ran into a clear, reportable problem (nothing was changed)."""


def first_error(exc: ValidationError, empty: str = "") -> str:
    """``where: what`` of a model's first validation error (``where`` is ``empty`` at the top)."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or empty
    return f"{where}: {first['msg']}"


def parse_args(model: type[Args], args: dict[str, Any]) -> Args:
    """A command's ``args`` as ``model``, or ``CommandError("bad args: where: what")``."""
    try:
        return model.model_validate(args)
    except ValidationError as exc:
        raise CommandError(f"bad args: {first_error(exc, 'args')}") from None


def load_public_key(text: str) -> Ed25519PublicKey:
    """The platform's Ed25519 key from base64 (32 raw bytes) or PEM; ValueError otherwise."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("platform key is not an Ed25519 key")
        return key
    raw = base64.b64decode(text, validate=True)
    return Ed25519PublicKey.from_public_bytes(raw)
