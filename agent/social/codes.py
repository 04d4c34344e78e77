"""Codes people type from paper or a phone: no 0/O, 1/I/L; long enough that guessing is hopeless."""

from __future__ import annotations

import hashlib
import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # 31 symbols, none that read as another


def new_code(groups: int, size: int) -> str:
    """``groups`` groups of ``size`` symbols joined by ``-`` (log2(31) ≈ 4.95 bits a symbol)."""
    return "-".join("".join(secrets.choice(ALPHABET) for _ in range(size)) for _ in range(groups))


def normal(code: str) -> str:
    """What a person typed, as stored: capitals, no spaces or dashes, 0→O... never (absent)."""
    return re.sub(r"[\s\-]", "", code).upper()[:64]


def digest(code: str) -> str:
    """SHA-256 of the normalised code: what is kept; the code itself never is."""
    return hashlib.sha256(normal(code).encode("ascii", "replace")).hexdigest()
