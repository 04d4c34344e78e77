"""Stations: serial devices bound to a duty (agent/workflows/), and the photos on their records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from agent.config.base import Strict
from drivers.config_types import Celsius, PositiveHours, PositiveSeconds, Seconds

# The station catalog: each kind and the device roles it cannot work without. The
# workflow class of each kind is in agent/wiring/serial.py (``WORKFLOWS``: the config
# must not import workflows); a test checks both list the same kinds.
STATION_REQUIRED: dict[str, tuple[str, ...]] = {
    "morning_check": ("badge", "thermometer"),
    "food_sample": ("badge", "scale"),
    "receiving": ("badge", "scale"),
    "additive": ("badge", "scale"),
    "checkin": ("badge",),
}
# which device kind each station role must name (drivers' ``kind``)
STATION_DEVICE_KINDS = {"badge": "badge_reader", "thermometer": "ir_thermometer", "scale": "scale",
                        "keypad": "barcode_reader", "barcode": "barcode_reader"}
if TYPE_CHECKING:
    StationKind = str
else:
    StationKind = Literal[tuple(STATION_REQUIRED)]
CheckinMode = Literal["leader_meal", "staff_training", "superior_inspection"]


class StationConfig(Strict):
    """One place where staff do one duty, and the devices bound to it.

    Every station starts with a badge. Keypad and barcode inputs are keyboard-style
    ``barcode_reader`` devices; the keypad grammar of each kind is documented in its
    workflow module (agent/workflows/<kind>.py).
    """

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Station id (feedback, logs).")
    kind: StationKind
    badge: str | None = Field(None, description="Device id of the badge reader (required).")
    thermometer: str | None = Field(None, description="morning_check: device id of the IR thermometer.")
    scale: str | None = Field(None, description="food_sample / receiving / additive: device id of the scale.")
    keypad: str | None = Field(None, description="Device id of a keypad (answers, choices, typed values).")
    barcode: str | None = Field(None, description="receiving / additive: device id of a barcode reader.")
    checkin_modes: list[CheckinMode] = Field(
        ["leader_meal"], min_length=1, description="checkin: the first is the default; keypad 1..n selects one.")
    session: str | None = Field(None, description="staff_training: session name (default: 培训 + date).")
    session_hours: PositiveHours | None = Field(None, description="staff_training: hours credited.")
    organisation: str | None = Field(None, description="superior_inspection: inspecting authority.")
    allowed_roles: list[str] = Field(default_factory=list, description="checkin: roster roles accepted (empty: any).")
    additives: list[str] = Field(default_factory=list,
                                 description="additive: names chosen by keypad 1..n (default: rules.additive_limits_g).")
    fridge_id: str | None = Field(None, description="food_sample: the sample fridge's id, written on each record.")
    tare_g: float = Field(0.0, ge=0, le=1_000_000, description="Container weight subtracted from every stable weight.")
    settle_readings: int | None = Field(
        None, ge=1, le=1000, description="morning_check: consecutive close readings that make a measurement "
                                "(default: 3 for streaming thermometers, 1 for ascii_line ones).")
    presence_min_c: Celsius = Field(32.0, description="morning_check: readings below this are the room, not a person.")
    answers_required: bool = Field(False, description="morning_check: wait for keypad answers before recording.")
    answers_window_s: PositiveSeconds = Field(20, description="morning_check: after the temperature, wait this long for answers.")
    session_timeout_s: PositiveSeconds = Field(120, description="food_sample / receiving / additive: idle session ends.")
    meal_margin_min: float = Field(90, ge=0, le=24 * 60, description="Meals count from this long before their window starts.")
    repeat_scan_s: Seconds = Field(3.0, description="The same card again within this is one scan (readers repeat).")
    camera: str | None = Field(
        None, description="Id of a camera (cameras: or video.cameras) watching this station: every record it "
                          "writes carries a photo of that moment (media role photo; see photos:).")


class PhotosConfig(Strict):
    """Photos on station records: how long a record may wait for its picture, and how fresh it must be."""

    wait_ms: float = Field(200, ge=0, le=2000, description="A record waits at most this long for its photo; "
                                                           "a photo not at hand by then follows the record (pending).")
    max_age_s: float = Field(3.0, gt=0, le=60, description="A camera whose newest picture is older than this "
                                                           "is not delivering: the record is saved without one.")
    grab_timeout_s: float = Field(5.0, gt=0, le=30, description="A camera nobody else reads is grabbed once per "
                                                                "record with FFmpeg; it gives up after this.")
    max_side: int = Field(1280, ge=160, le=4096, description="Photos are shrunk to this long side.")
    jpeg_quality: int = Field(80, ge=30, le=95)
