"""Typed readings: what a driver hands to the rest of the agent.

A driver knows one kind of device and nothing about food safety. It turns bytes
into these small immutable values and passes them to a ``ReadingSink``. Workflows
consume them; nothing downstream ever sees raw bytes.

Times are timezone-aware ``datetime`` values taken when the reading was decoded
(``now()`` from the driver's clock, injectable for tests). Beside it a driver stamps
``mono``, the monotonic clock's seconds at the same moment (``mono()``, injectable the
same way): wall time is for timestamps only, and it steps (a Pi has no RTC; NTP corrects
it after boot). Durations between readings come from ``mono``; a reading without one
(built by hand) falls back to ``at``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """Base of every reading: which device produced it and when."""

    device_id: str
    at: datetime
    mono: float | None = None  # monotonic seconds when ``at`` was taken (durations only)


@dataclass(frozen=True, slots=True, kw_only=True)
class BadgeScan(Reading):
    """A card presented to a badge reader. ``card`` is normalised (see drivers.badge)."""

    card: str
    raw: str = ""


def mask_card(card: str) -> str:
    """``0004212345`` → ``******2345``: enough to tell scans apart in a log, not to copy a card.

    Card numbers are personal data: whoever logs a ``BadgeScan`` (its driver, a station)
    logs this form only."""
    return "*" * max(0, len(card) - 4) + card[-4:] if len(card) > 4 else "*" * len(card)


@dataclass(frozen=True, slots=True, kw_only=True)
class TemperatureReading(Reading):
    """A body (object) temperature from an infrared thermometer, in °C."""

    object_c: float
    ambient_c: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CoreTemperature(Reading):
    """The core temperature of food from a probe thermometer, in °C (not health data)."""

    core_c: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StableWeight(Reading):
    """A stable weight from a scale, normalised to grams (negative allowed)."""

    grams: float
    net: bool = False
    tare_g: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterSample(Reading):
    """Named engineering values read from a Modbus device (already scaled).

    ``values`` maps a profile's point names to numbers, e.g.
    ``{"temperature_c": 4.2, "humidity_pct": 71.0}`` or ``{"run": 1.0}``.
    """

    values: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class TextInput(Reading):
    """A line typed or scanned at a keyboard-style input (barcode reader, keypad)."""

    text: str


class DeviceState(StrEnum):
    STARTING = "starting"
    OK = "ok"
    SILENT = "silent"  # port open but nothing valid arrived for too long
    DISCONNECTED = "disconnected"  # port missing or failing to open


# Why a device is not OK, as a code the agent turns into words for people (agent.words);
# ``detail`` keeps the raw text (an OS error, a port path) for the log and the installer.
DownReason = Literal["", "port_open_failed", "port_lost", "no_data", "no_answer", "link_down", "no_picture"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceHealth:
    """A driver's view of its own health, published on every state change.

    ``reason`` says why it is down in a word people can be told (``DownReason``);
    ``detail`` is the driver's own text for the log and the installer.
    """

    device_id: str
    kind: str
    state: DeviceState
    at: datetime
    bad_frames: int = 0
    good_frames: int = 0
    last_reading_at: datetime | None = None
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    reason: DownReason = ""


ReadingSink = Callable[[Reading], None]
HealthSink = Callable[[DeviceHealth], None]
