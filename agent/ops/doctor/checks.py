"""A doctor's row (``Check``), its options beside a running agent, and the table it prints."""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

SERVICE_USER = "canteen"
Status = Literal["OK", "WARN", "FAIL"]


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warn: bool = False  # passes, but deserves a look

    @property
    def status(self) -> Status:
        if not self.ok:
            return "FAIL"
        return "WARN" if self.warn else "OK"

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "status": self.status}


@dataclass
class DoctorOptions:
    camera_seconds: float = 2.0
    broker_timeout_s: float = 5.0
    modbus_timeout_s: float | None = None  # None: each bus's own reply timeout
    service_user: str = SERVICE_USER
    # Set when the agent is running (the console's installer page): its serial ports, Modbus
    # buses and cameras are its own (a second Modbus master on one RS-485 line garbles both).
    # Ports are then only looked at, never opened; the Modbus devices' and cameras' rows are
    # the running agent's live states (device id -> ``DeviceRegistry`` entry) instead.
    live_devices: Mapping[str, Mapping[str, Any]] | None = None
    # ... and the broker gets no MQTT CONNECT from the doctor: the shipped brokers make the user
    # name the client id, so a CONNECT with the agent's credentials would throw the agent off and
    # take over its session. The row is the agent's own connection (None: not known).
    agent_connected: bool | None = None
    # Beside a running agent from the command line (``canteen-agent doctor`` while the service
    # runs): the same restraint, but the agent's in-memory device states are out of reach; what
    # its store says (``StoredHealth``: its open offline alarms) stands in for them.
    stored_health: StoredHealth | None = None
    # Beside a running agent: its GB/T 28181 device's state (``GbDevice.snapshot``), None: not known
    gb28181: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class StoredHealth:
    """A running agent's device health as another process can read it: the ``device_offline`` /
    ``camera_offline`` alarms open in its store (device or camera id -> raised at). ``error``:
    the store could not be read, and the rows say so."""

    offline_since: Mapping[str, str]
    error: str = ""

    @classmethod
    def from_open_alarms(cls, alarms: Iterable[Mapping[str, Any]]) -> StoredHealth:
        offline: dict[str, str] = {}
        for alarm in alarms:
            if alarm["kind"] in ("device_offline", "camera_offline"):
                subject = json.loads(alarm["subject"])
                device = subject.get("device_id") or subject.get("camera_id")
                if device:
                    offline[str(device)] = str(alarm["raised_at"])
        return cls(offline)


def reason_of(exc: BaseException) -> str:
    """An exception as a person reads it: the OS's words, else the message, never a repr."""
    root = exc
    for _ in range(5):  # wrapped errors (LinkLost from ConnectionRefusedError ...): the cause speaks
        if root.__cause__ is None:
            break
        root = root.__cause__
    if isinstance(root, ssl.SSLError):  # its errno is OpenSSL's, not the OS's
        return str(root.reason or root.strerror or type(root).__name__)
    if isinstance(root, OSError) and root.errno:
        return os.strerror(root.errno)
    if isinstance(root, OSError) and root.strerror:
        return root.strerror
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def format_table(checks: list[Check]) -> str:
    headers = ("CHECK", "STATUS", "DETAIL", "FIX")
    rows = [(c.name, c.status, c.detail, c.fix) for c in checks]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers[:3])]
    widths = [min(w, cap) for w, cap in zip(widths, (28, 6, 90), strict=True)]

    def line(cells: tuple[str, ...]) -> str:
        head = "  ".join(cell.ljust(w) for cell, w in zip(cells[:3], widths, strict=True))
        return (head + "  " + cells[3]).rstrip()

    out = [line(headers)]
    out += [line(row) for row in rows]
    failed = sum(c.status == "FAIL" for c in checks)
    warned = sum(c.status == "WARN" for c in checks)
    out.append(f"\n{len(checks)} checks: {len(checks) - failed - warned} ok, {warned} warn, {failed} fail")
    return "\n".join(out)
