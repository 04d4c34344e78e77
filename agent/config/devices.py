"""Device, bus and camera config models, gathered from the drivers that own them.

Each driver module defines the pydantic model of its own settings; this module only
assembles them into the unions the agent's config file accepts (by ``kind``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from drivers.badge import BadgeReaderConfig
from drivers.barcode import BarcodeReaderConfig
from drivers.config_types import FINITE, PositiveSeconds
from drivers.modbus.config import ModbusBusConfig
from drivers.scale import ScaleConfig
from drivers.serial_devices import SerialDeviceConfig
from drivers.thermometer import ThermometerConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", **FINITE)


class Zone(_Strict):
    """A polygon in normalised image coordinates (0..1)."""

    points: list[tuple[float, float]] = Field(min_length=3)


class WorkingHours(_Strict):
    start: str = Field("05:30", pattern=r"^\d{2}:\d{2}$")
    end: str = Field("20:30", pattern=r"^\d{2}:\d{2}$")


class CameraConfig(_Strict):
    id: str
    kind: Literal["camera"] = "camera"
    url: str = Field(description="rtsp://..., http://... (MJPEG), /dev/videoN or a video file path.")
    analyse_fps: float = Field(2.0, gt=0, le=30, description="Cap on analysed frames per second.")
    checks: list[Literal["mask", "hat"]] = Field(["mask", "hat"])
    ignore_zones: list[Zone] = Field(default_factory=list)
    working_hours: WorkingHours | None = Field(None, description="Only check within these hours.")
    silent_after_s: PositiveSeconds = Field(30, description="No frame this long raises camera_offline.")
    motion_min_area: float = Field(0.002, ge=0, le=1, description="Fraction of the image that must change.")
    loop: bool = Field(False, description="Loop a video file (simulator).")


# Drivers own their settings; the catalog in drivers.serial_devices gathers them into
# one union. Cameras have their own ``cameras`` list, so it holds the serial /
# keyboard-style kinds only.
DeviceConfig = SerialDeviceConfig

__all__ = ["BadgeReaderConfig", "BarcodeReaderConfig", "CameraConfig", "DeviceConfig", "ModbusBusConfig",
           "ScaleConfig", "ThermometerConfig", "WorkingHours", "Zone"]
