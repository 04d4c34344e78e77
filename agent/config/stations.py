"""What every station shares (each kind adds its own model: agent/stations/), and the photos on their records."""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import Field, model_validator

from agent.config.base import Strict
from drivers.config_types import PositiveSeconds, Seconds


class StationConfig(Strict):
    """One place where staff do one duty, and the devices bound to it: what every station kind
    shares. Each kind's own model (``agent/stations/<kind>/config.py``) adds its ``kind``
    literal, its device roles and its settings; the config file's ``stations:`` accepts
    any kind in ``agent.stations.registry``.

    Every station starts with a badge. Keypad and barcode inputs are keyboard-style
    ``barcode_reader`` devices; the keypad grammar of each kind is documented in its
    workflow module (agent/stations/<kind>/workflow.py).
    """

    # The fields that name a device (a station role), and those the kind cannot work
    # without; which device kinds fill a role is the drivers' catalog's (``DeviceKind.roles``).
    roles: ClassVar[tuple[str, ...]] = ("badge", "keypad")
    required: ClassVar[tuple[str, ...]] = ("badge",)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Station id (feedback, logs).")
    kind: str
    badge: str | None = Field(None, description="Device id of the badge reader (required).")
    keypad: str | None = Field(None, description="Device id of a keypad (answers, choices, typed values).")
    session_timeout_s: PositiveSeconds = Field(120, description="An idle session ends after this (food_sample / "
                                                                "receiving / additive).")
    meal_margin_min: float = Field(90, ge=0, le=24 * 60, description="Meals count from this long before their window starts.")
    repeat_scan_s: Seconds = Field(3.0, description="The same card again within this is one scan (readers repeat).")
    camera: str | None = Field(
        None, description="Id of a camera (cameras: or video.cameras) watching this station: every record it "
                          "writes carries a photo of that moment (media role photo; see photos:).")

    document: str | None = Field(
        None, description="Id of a document of the knowledge and rules library (食品安全知识及制度) this station's "
                          "screen offers, e.g. the handwashing procedure at the morning check.")

    def devices(self) -> dict[str, str]:
        """Device id -> the role it has at this station."""
        return {device: role for role in self.roles if (device := getattr(self, role)) is not None}

    def required_now(self) -> set[str]:
        """The roles this station cannot take anyone's entry without, as configured (a kind
        adds what its settings make necessary: a morning check that waits for answers)."""
        return set(self.required)

    def devices_needed(self) -> list[tuple[str, str, bool]]:
        """(role, device id, required) of each device bound to this station. A station's
        screen asks for a badge only while all its required devices are working."""
        required = self.required_now()
        return [(role, device, role in required) for role in self.roles
                if (device := getattr(self, role)) is not None]


class WeighingStationConfig(StationConfig):
    """A station that weighs on a scale (food samples, receiving, additives)."""

    roles: ClassVar[tuple[str, ...]] = ("badge", "scale", "keypad")
    required: ClassVar[tuple[str, ...]] = ("badge", "scale")

    scale: str | None = Field(None, description="Device id of the scale.")
    tare_g: float = Field(0.0, ge=0, le=1_000_000, description="Container weight subtracted from every stable weight.")


class ScanningStationConfig(WeighingStationConfig):
    """A weighing station whose entries are typed on a keypad or scanned by a barcode reader
    (receiving, store room): at least one of the two, and with only one, that one is needed."""

    roles: ClassVar[tuple[str, ...]] = ("badge", "scale", "keypad", "barcode")

    barcode: str | None = Field(None, description="Device id of a barcode reader (labels, batch codes).")

    @model_validator(mode="after")
    def _something_to_type_with(self) -> Self:
        if self.keypad is None and self.barcode is None:
            kind = getattr(self, "kind", type(self).__name__)
            raise ValueError(f"station {self.id!r} ({kind}) needs a keypad or barcode device")
        return self

    def required_now(self) -> set[str]:
        """With one keypad or one barcode reader (not both), that one is needed."""
        needed = super().required_now()
        if (self.keypad is None) != (self.barcode is None):
            needed.add("keypad" if self.keypad is not None else "barcode")
        return needed


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
