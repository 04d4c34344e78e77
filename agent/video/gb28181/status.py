"""The device's registration as the doctor, the status and the installer's page read it,
and the platform's ``Date`` it is compared with (reported, never applied to the clock)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

REGISTERING, REGISTERED, REFUSED, UNREACHABLE, STOPPED = (
    "registering", "registered", "refused", "unreachable", "stopped")
_GB_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d{1,6})?$")


@dataclass
class RegistrationStatus:
    state: str = REGISTERING
    detail: str = "not yet registered"
    registered_at: float | None = None  # wall time
    expires_s: int = 0
    last_keepalive_ok: float | None = None  # wall time of the last answered keepalive
    keepalive_misses: int = 0
    clock_offset_s: float | None = None  # the platform's Date minus ours (reported, never applied)
    registrations: int = 0
    refusals: int = 0


def parse_gb_date(value: str | None) -> datetime | None:
    """The platform's ``Date`` (GB form ``2026-12-06T22:40:00.123``, local time of the platform;
    read as UTC when unknown) or an RFC 1123 date."""
    if not value:
        return None
    match = _GB_DATE.match(value.strip())
    if match:
        try:
            return datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}{match.group(3) or ''}")
        except ValueError:
            return None
    try:
        from email.utils import parsedate_to_datetime

        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
